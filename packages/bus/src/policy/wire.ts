/**
 * The announcement on the wire: `{"revision":n,"payload":"..."}`. Decoding never throws: a message
 * that cannot be read still tells the subscriber something changed (revision -1, payload null) when
 * possible, so it re-reads the latest snapshot instead of silently missing a revision.
 */
export function encodeAnnouncement(revision: number, payload: string): string {
  if (!Number.isSafeInteger(revision) || revision < 0) {
    throw new RangeError(`revision must be an integer >= 0, got ${revision}`);
  }
  return JSON.stringify({ revision, payload });
}

export function decodeAnnouncement(message: string): { revision: number; payload: string | null } {
  try {
    const m = JSON.parse(message) as { revision?: unknown; payload?: unknown };
    const revision = Number.isSafeInteger(m.revision) ? (m.revision as number) : -1;
    return { revision, payload: typeof m.payload === 'string' ? m.payload : null };
  } catch {
    return { revision: -1, payload: null };
  }
}

/** Most deltas the policy log holds (a safety bound: the publisher compacts long before). */
export const MAX_LOGGED_DELTAS = 10_000;

/** Most deltas one `readDeltas` answers unless told otherwise. */
export const DELTA_READ_LIMIT = 1_000;
