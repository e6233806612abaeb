import { open, readFile, unlink } from 'node:fs/promises';

/** Another live process holds the embedded database: opening it too would lose or corrupt writes. */
export class DataDirInUseError extends Error {
  override readonly name = 'DataDirInUseError';
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(
      `the embedded database ${dataDir} is in use by another process (pid ${pid}, a running ` +
        '`tollgate start`?): stop it first — while it runs, create workspaces with ' +
        'POST /v1/workspaces (TOLLGATE_ROOT_KEY) instead',
    );
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, owned by someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes `<dataDir>.lock` for this process (PGlite is one process per folder: a second one, say
 * `tollgate workspaces create` beside a running `tollgate start`, writes into a copy the first
 * never sees, and both write the same files). A lock whose process is gone (a crash) is taken
 * over. Answers the release.
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const file = `${dataDir}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx', 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      return async () => {
        const holder = Number(await readFile(file, 'utf8').catch(() => ''));
        if (holder === process.pid) await unlink(file).catch(() => {});
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (Number.isSafeInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
        throw new DataDirInUseError(dataDir, holder);
      }
      // Stale (its process is gone), or half-written: take it over.
      await unlink(file).catch(() => {});
    }
  }
  throw new Error(`could not lock ${dataDir}`);
}
