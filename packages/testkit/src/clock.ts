/**
 * Rate windows are fixed UTC minutes. A test that expects exactly N requests admitted in "a
 * minute" would see a fresh window if it ran across a minute boundary; it starts after this, which
 * waits for the next minute when fewer than `marginMs` are left in the current one.
 */
export async function clearOfMinuteEdge(marginMs = 5_000): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < marginMs) await new Promise((r) => setTimeout(r, left + 50));
}
