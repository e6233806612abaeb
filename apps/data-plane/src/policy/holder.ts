import { DELTA_READ_LIMIT, type PolicyBus } from '@tollgate/bus';
import {
  applyDelta,
  type BasePriceLookup,
  type CompiledPolicy,
  catchUp,
  compile,
  compileInSlices,
  decodePolicyMessage,
  decodeSnapshotInSlices,
  snapshotRevisionOf,
} from '@tollgate/policy';
import type { Logger } from '../log.ts';

/**
 * Holds the data plane's compiled policy and keeps it current (SPEC §3, §10): "latest" — a base
 * snapshot and the deltas logged since — is read on start, on every gap, on an unreadable
 * announcement and on a slow timer: the base only when it is newer than the policy held, then the
 * logged deltas after it. Announcements carrying a newer snapshot or a chaining delta are applied in
 * place. Whatever fails to decode is logged and
 * ignored: the last good policy stays in force. The reference is swapped whole, so a request judged
 * against one revision never sees half of the next.
 */
export interface PolicyHolder {
  current(): CompiledPolicy | null;
  revision(): number;
  /** When the policy in force was installed (ms since the epoch); null before the first. */
  installedAt(): number | null;
  /** When the store last confirmed (or replaced) the policy in force; null before the first read. */
  syncedAt(): number | null;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Re-reads "latest" now (coalesced with a read in flight). */
  refresh(): Promise<void>;
  /** Resolves true once a policy newer than `revision` is in force, false after `ms` (or at once
   * when MAX_WAITERS already wait, or when stopped). */
  newerThan(revision: number, ms: number): Promise<boolean>;
}

/** Most requests waiting for a newer policy at once; the others are answered without waiting. */
export const MAX_WAITERS = 256;

export interface PolicyHolderOptions {
  bus: PolicyBus;
  basePrices: BasePriceLookup;
  pollMs?: number;
  log: Logger;
}

export function createPolicyHolder(opts: PolicyHolderOptions): PolicyHolder {
  const { bus, log } = opts;
  let policy: CompiledPolicy | null = null;
  let unsubscribe: (() => Promise<void>) | null = null;
  let timer: NodeJS.Timeout | null = null;
  let reading: Promise<void> | null = null;
  let again = false;
  let installedAt: number | null = null;
  let syncedAt: number | null = null;

  const revision = () => policy?.revision ?? -1;
  const waiters = new Set<{ after: number; done: (newer: boolean) => void }>();

  /** The history of revisions the policy held belongs to, as "latest" named it when its base was
   * read (null: not known — a base stored by an older control plane). */
  let history: string | null = null;

  /** `replace`: a base of another history, whose revisions do not compare with the held ones. */
  function swap(next: CompiledPolicy, how: string, replace = false) {
    if (!replace && policy !== null && next.revision <= policy.revision) return;
    policy = next;
    installedAt = Date.now();
    log.debug('policy applied', { revision: next.revision, how });
    for (const w of waiters) if (next.revision > w.after) w.done(true);
  }

  function newerThan(after: number, ms: number): Promise<boolean> {
    if (revision() > after) return Promise.resolve(true);
    if (waiters.size >= MAX_WAITERS || timer === null) return Promise.resolve(false);
    return new Promise((resolve) => {
      const w = {
        after,
        done: (newer: boolean) => {
          waiters.delete(w);
          clearTimeout(timeout);
          resolve(newer);
        },
      };
      const timeout = setTimeout(() => w.done(false), ms);
      waiters.add(w);
    });
  }

  async function readLatest(): Promise<void> {
    const [base, stored] = await Promise.all([bus.latestRevision(), bus.latestHistory()]);
    // A base of another history (the database replaced or restored behind the same Redis): its
    // revisions say nothing against the held ones, so it replaces the policy whatever they are.
    const otherHistory = stored !== null && history !== null && stored !== history;
    // Most reads (the 5 s poll) find the base already held (or passed by deltas): its revision says
    // so without fetching it, let alone decoding it — a checksum over the whole document, seconds at
    // 100k sub-accounts. A base stored without its revision (an older publisher) is fetched to know.
    if (otherHistory || base === null || base > revision()) await readBase(stored, otherHistory);
    await readLog();
    syncedAt = Date.now();
  }

  async function readBase(stored: string | null, replace: boolean): Promise<void> {
    const text = await bus.getLatest();
    if (text === null) return;
    const claimed = snapshotRevisionOf(text);
    if (!replace && claimed !== null && claimed <= revision()) {
      history ??= stored;
      return;
    }
    // A slice at a time: requests keep being served while a large base is checked.
    const decoded = await decodeSnapshotInSlices(text);
    if (!decoded.ok) {
      log.warn('latest policy refused; keeping last good', { reason: decoded.reason });
      return;
    }
    if (!replace && decoded.value.revision <= revision()) return;
    swap(await compileInSlices(decoded.value, { basePrices: opts.basePrices }), 'latest', replace);
    history = stored;
    if (replace) log.warn('policy of another history installed', { revision: revision() });
  }

  /** The deltas logged after the policy held, applied in order until one does not chain. */
  async function readLog(): Promise<void> {
    for (;;) {
      const held = policy;
      if (held === null) return;
      const logged = await bus.readDeltas(held.revision);
      if (logged.length === 0) return;
      // Announcements may have moved the policy on during the read: continue from the newest.
      const from = policy ?? held;
      const caught = catchUp(
        from,
        logged.map((d) => d.payload),
      );
      if (caught.applied > 0) swap(caught.policy, 'log');
      if (caught.stopped !== undefined) {
        // A gap is normal for a moment (a revision published as a full snapshot, not logged): the
        // announcement of that snapshot, or the next poll, brings it.
        const level = caught.stopped.reason === 'refused' ? 'warn' : 'debug';
        log[level]('policy log not applied past a revision', { ...caught.stopped });
        return;
      }
      if (logged.length < DELTA_READ_LIMIT) return;
    }
  }

  /** One read at a time; calls during a read share one follow-up read. */
  function refresh(): Promise<void> {
    if (reading !== null) {
      again = true;
      return reading;
    }
    reading = (async () => {
      try {
        do {
          again = false;
          await readLatest().catch((err) => log.warn('policy read failed', { err: String(err) }));
        } while (again);
      } finally {
        reading = null;
      }
    })();
    return reading;
  }

  function onAnnounce(rev: number, payload: string | null) {
    if (rev >= 0 && rev <= revision()) return;
    if (rev < 0 || payload === null || payload === '' || policy === null) {
      void refresh();
      return;
    }
    const decoded = decodePolicyMessage(payload);
    if (!decoded.ok) {
      log.warn('policy announcement refused; re-reading latest', { reason: decoded.reason });
      void refresh();
      return;
    }
    const message = decoded.value;
    if (message.kind === 'snapshot') {
      swap(compile(message.snapshot, { basePrices: opts.basePrices }), 'announce');
      return;
    }
    const applied = applyDelta(policy, message.delta);
    if (applied.ok) swap(applied.policy, 'delta');
    else if (applied.reason === 'gap') void refresh();
  }

  return {
    current: () => policy,
    revision,
    installedAt: () => installedAt,
    syncedAt: () => syncedAt,
    refresh,
    newerThan,
    async start() {
      // Subscribe before reading, so nothing published in between is missed.
      unsubscribe = await bus.subscribe(onAnnounce);
      await refresh();
      timer = setInterval(() => void refresh(), opts.pollMs ?? 5_000);
      timer.unref();
    },
    async stop() {
      if (timer !== null) clearInterval(timer);
      timer = null;
      for (const w of waiters) w.done(false);
      await unsubscribe?.();
      unsubscribe = null;
      await reading;
    },
  };
}
