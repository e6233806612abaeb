/**
 * PGlite loads its WebAssembly as an ES module, and Node prints "Importing WebAssembly module
 * instances is an experimental feature" on every start — the first lines a new user sees, about
 * nothing they can act on. That one warning is dropped; every other warning is printed as Node
 * prints it. Imported first by main.ts, before anything that could load PGlite.
 */
const [printWarning] = process.listeners('warning');
if (printWarning !== undefined) {
  process.removeListener('warning', printWarning);
  process.on('warning', (warning) => {
    const wasm =
      warning.name === 'ExperimentalWarning' && /WebAssembly module/.test(warning.message);
    if (!wasm) printWarning(warning);
  });
}
