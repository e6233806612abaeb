/** Polls `probe` every `everyMs` until it answers true; fails naming `what` after `ms`. */
export async function waitUntil(
  what: string,
  probe: () => boolean | Promise<boolean>,
  ms = 15_000,
  everyMs = 50,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
