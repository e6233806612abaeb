import { randomUUID } from 'node:crypto';
import type { PolicyBus } from '@tollgate/bus';
import type { PrismaClient } from '@tollgate/db';
import { encodeDelta, encodeSnapshotInSlices } from '@tollgate/policy';
import type { PolicyChange } from '../services/context.ts';
import { buildDelta } from './delta.ts';
import { buildSnapshot, SnapshotCancelled } from './snapshot.ts';

/**
 * Publishes the policy after committed admin changes (DESIGN: commit, then publish).
 *
 * "Latest" — what data planes read on start, on a gap and on their slow timer — is a base snapshot
 * plus the log of deltas announced since it (PolicyBus). So one admin change costs one delta, the
 * size of the entity it touched, however many sub-accounts there are:
 *
 * - `onPolicyChange(change)` (wire it to ServiceDeps.onPolicyChange): each committed change is logged
 *   and announced as a delta chaining from the previous revision. Changes are announced strictly in
 *   revision order. A revision this process did not commit (another control plane's) is taken from
 *   the shared log when it appears there within `gapWaitMs`; otherwise a full snapshot is published.
 * - Compaction: a new base is built after `compactEvery` logged deltas (more for a larger policy),
 *   or `compactAfterMs` after the first one, outside the announcement chain — deltas keep flowing
 *   while it is read and encoded — and a page and a slice at a time, so the event loop is never
 *   held for the whole of a large policy (33 ms at most, measured at 100k sub-accounts).
 * - `publishNow()` builds and publishes the full snapshot (start-up, recovery, tests).
 *
 * A publication that fails (Redis away, the database busy) is not lost: a full snapshot is published
 * again after `retryMs.min`, then at growing intervals up to `retryMs.max`, until one goes through —
 * so a suspension or revocation committed during a Redis outage reaches every data plane once Redis
 * is back, without waiting for the next admin change.
 */
export interface PolicyPublisher {
  /** At start-up: takes up "latest" where it stands when Redis holds this database's history up to
   * its current revision (a control plane restarting: no full snapshot to build, seconds at 100k
   * sub-accounts), and publishes the full snapshot otherwise. Resolves with the revision. */
  start(): Promise<number>;
  /** Builds and publishes the full snapshot; resolves with its revision. */
  publishNow(): Promise<number>;
  /** Fire-and-forget `publishNow`; failures go to `onError` and are retried. */
  schedule(): void;
  /** Announce one committed change (as a delta when possible). */
  onPolicyChange(change: PolicyChange): void;
  /** Builds a new base now (as compaction does); resolves with its revision. */
  compactNow(): Promise<number>;
  /** Waits until nothing is queued or running (compaction included). */
  idle(): Promise<void>;
  /** The last revision this process announced; -1 before the first. */
  publishedRevision(): number;
  /** Cancels timers (pending work still finishes). */
  stop(): Promise<void>;
}

export interface PolicyPublisherOptions {
  prisma: PrismaClient;
  bus: PolicyBus;
  /** Largest snapshot sent inline in an announcement. Default 256 KiB. */
  inlineLimit?: number;
  /** How long a missing revision is waited for before a full snapshot. Default 250 ms. */
  gapWaitMs?: number;
  /** Logged deltas that make a new base due. Default: one per 10 kB of the last base, between 500
   * and 5,000 — a new base costs time in proportion to its size (about 5 s of one core at 100k
   * sub-accounts, 42 MB), a logged delta about 50 µs to each data plane that starts. */
  compactEvery?: number;
  /** Longest a logged delta waits for a new base. Default 5 min. */
  compactAfterMs?: number;
  /** How often the base is checked to be still stored — Redis may lose it (restarted without
   * persistence, flushed) with no admin change to follow — and stored again when it is not.
   * Default 5 s. */
  baseCheckMs?: number;
  /** Told about each failed publication (it is retried) and each failed compaction. */
  onError?: (err: unknown) => void;
  /** Delays before a failed publication is retried (full snapshot), doubling from `min` to `max`.
   * Default 250 ms to 10 s. */
  retryMs?: { min: number; max: number };
  now?: () => Date;
}

/** A full snapshot read from the books, encoded. */
interface Snapshot {
  revision: number;
  /** PolicyState.history: the history of revisions it belongs to. */
  history: string;
  text: string;
}

/** How often the log is read while a revision is missing. */
const GAP_POLL_MS = 20;

/** How long the read of a full snapshot may hold its transaction. */
const SNAPSHOT_READ_TIMEOUT_MS = 60_000;

export function createPolicyPublisher(opts: PolicyPublisherOptions): PolicyPublisher {
  const inlineLimit = opts.inlineLimit ?? 256 * 1024;
  let compactEvery = opts.compactEvery ?? 500;
  const compactAfterMs = opts.compactAfterMs ?? 300_000;
  const onError = opts.onError ?? (() => {});
  /** Last revision announced (delta or snapshot) or found in the log; -1 before the first. */
  let published = -1;
  /** Revision of the base this process stored. */
  let baseRevision = -1;
  /** Deltas logged since that base. */
  let loggedSinceBase = 0;
  const pending = new Map<number, PolicyChange>();
  let chain: Promise<unknown> = Promise.resolve();
  let queuedFull: Promise<number> | null = null;
  let compacting: Promise<number> | null = null;
  let gapTimer: NodeJS.Timeout | null = null;
  /** Since when the pending changes wait for a missing revision (null: none missing). */
  let gapSince: number | null = null;
  let compactTimer: NodeJS.Timeout | null = null;
  let retryTimer: NodeJS.Timeout | null = null;
  const baseCheck = setInterval(() => {
    if (published < 0 || compacting !== null || stopped) return;
    // The document itself, not its revision: a Redis evicting single keys could drop the one.
    opts.bus
      .latestLength()
      .then((length) => {
        if (length === 0 && !stopped) return compactNow();
      })
      .catch(() => {
        // Redis away: checked again on the next tick; publications have their own retries.
      });
  }, opts.baseCheckMs ?? 5_000);
  baseCheck.unref();
  const retryMin = opts.retryMs?.min ?? 250;
  const retryMax = opts.retryMs?.max ?? 10_000;
  let retryDelay = retryMin;
  let stopped = false;
  /** PolicyState.history as last read (null before the first read). */
  let knownHistory: string | null = null;

  /** A publication failed: a full snapshot is published again later (see above). */
  function failed(err: unknown) {
    onError(err);
    if (stopped || retryTimer !== null) return;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      publishNow().catch(failed);
    }, retryDelay);
    retryTimer.unref();
    retryDelay = Math.min(retryDelay * 2, retryMax);
  }

  function enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = chain.then(task);
    chain = run.catch(() => undefined);
    return run;
  }

  /** `cancellable`: a compaction, which stopping abandons (SnapshotCancelled) rather than waits for;
   * a publication is always finished. */
  async function snapshotNow(cancellable = false): Promise<Snapshot> {
    const cancelled = () => cancellable && stopped;
    // One consistent read, a page at a time; the encoding after it, outside the transaction and a
    // slice at a time (seconds at 100k sub-accounts, which must not hold the event loop).
    if (knownHistory === null) {
      // The row carries the history: made now if no change ever made it, so the first base names
      // the history every later one will (upsert: a racing control plane may make it too).
      await opts.prisma.policyState.upsert({ where: { id: 1 }, create: { id: 1 }, update: {} });
    }
    const { revision, history, body } = await opts.prisma.$transaction(
      async (tx) => {
        const state = await tx.policyState.findUniqueOrThrow({ where: { id: 1 } });
        const revision = Number(state.revision);
        const body = await buildSnapshot(tx, revision, opts.now?.() ?? new Date(), cancelled);
        return { revision, history: state.history, body };
      },
      { isolationLevel: 'RepeatableRead', timeout: SNAPSHOT_READ_TIMEOUT_MS },
    );
    if (cancelled()) throw new SnapshotCancelled();
    knownHistory = history;
    return { revision, history, text: await encodeSnapshotInSlices(body) };
  }

  function forget(upTo: number) {
    for (const rev of pending.keys()) if (rev <= upTo) pending.delete(rev);
  }

  /** Stores `text` as the base (the bus keeps the newer of two racing bases of one history). */
  async function storeBase(snapshot: Snapshot): Promise<void> {
    if (snapshot.revision < baseRevision) return;
    await opts.bus.setLatest(snapshot.text, snapshot.revision, snapshot.history);
    baseRevision = snapshot.revision;
    sizeCompaction(snapshot.text.length);
    loggedSinceBase = Math.max(0, published - snapshot.revision);
  }

  /** Unless given, compactEvery follows the size of the base: one delta per 10 kB of it. */
  function sizeCompaction(baseLength: number) {
    if (opts.compactEvery !== undefined) return;
    compactEvery = Math.min(5_000, Math.max(500, Math.floor(baseLength / 10_000)));
  }

  async function publishFull(): Promise<number> {
    const snapshot = await snapshotNow();
    const { revision, text } = snapshot;
    await storeBase(snapshot);
    if (revision > published || published < 0) {
      await opts.bus.publish(revision, text.length <= inlineLimit ? text : '');
      published = Math.max(published, revision);
      loggedSinceBase = 0;
    }
    forget(published);
    retryDelay = retryMin;
    return revision;
  }

  /** Builds a base outside the chain; only storing it takes a turn on the chain. */
  function compactNow(): Promise<number> {
    if (compacting !== null) return compacting;
    if (compactTimer !== null) clearTimeout(compactTimer);
    compactTimer = null;
    const run = (async () => {
      const snapshot = await snapshotNow(true);
      await enqueue(() => storeBase(snapshot));
      return snapshot.revision;
    })();
    compacting = run;
    run
      .catch((err) => {
        if (!(err instanceof SnapshotCancelled)) onError(err);
      })
      .finally(() => {
        compacting = null;
        if (stopped) return;
        if (loggedSinceBase >= compactEvery) void compactNow();
        else if (loggedSinceBase > 0) armCompaction();
      });
    return run;
  }

  function armCompaction() {
    if (compactTimer !== null || compacting !== null || stopped) return;
    compactTimer = setTimeout(() => {
      compactTimer = null;
      void compactNow().catch(() => {});
    }, compactAfterMs);
    compactTimer.unref();
  }

  function logged() {
    loggedSinceBase++;
    if (loggedSinceBase >= compactEvery && !stopped) void compactNow().catch(() => {});
    else armCompaction();
  }

  /** Announces the pending changes that follow `published`, in order, as deltas. */
  async function announceChain(): Promise<void> {
    for (
      let next = pending.get(published + 1);
      next !== undefined;
      next = pending.get(published + 1)
    ) {
      pending.delete(published + 1);
      const delta = await buildDelta(opts.prisma, next, published);
      if (delta === null) {
        await publishFull();
        continue;
      }
      const text = encodeDelta(delta);
      // Logged before it is announced: a plane that finds a gap in the announcements reads the log.
      const based = await opts.bus.appendDelta(delta.revision, text);
      await opts.bus.publish(delta.revision, text);
      published = delta.revision;
      logged();
      // Redis lost the base (restarted empty, flushed): a plane starting now would find no policy.
      if (!based && !stopped) void compactNow().catch(() => {});
    }
    forget(published);
  }

  async function drain(): Promise<void> {
    if (published < 0) await publishFull();
    await announceChain();
    if (pending.size > 0 && gapSince === null) {
      gapSince = Date.now();
      await fillGap();
    }
  }

  /**
   * A revision before a pending one was not committed here (another control plane's) or its
   * callback was lost. The revisions logged by whoever committed them are taken as published (their
   * publisher announced them); the log is looked at again every GAP_POLL_MS while that makes
   * progress, and a full snapshot is published once it has made none for `gapWaitMs`.
   */
  async function fillGap(): Promise<void> {
    if (pending.size === 0) {
      gapSince = null;
      return;
    }
    const before = published;
    await adoptNewerBase();
    for (const d of await opts.bus.readDeltas(published)) {
      if (d.revision !== published + 1 || pending.has(d.revision)) break;
      published = d.revision;
      logged();
    }
    await announceChain();
    const now = Date.now();
    if (pending.size === 0) {
      gapSince = null;
    } else if (published > before) {
      gapSince = now;
      armGap();
    } else if (now - (gapSince ?? now) >= (opts.gapWaitMs ?? 250)) {
      await publishFull();
      // Changes committed after the snapshot was read may still wait (one of them for another).
      await announceChain();
      gapSince = pending.size > 0 ? Date.now() : null;
      if (gapSince !== null) armGap();
    } else {
      armGap();
    }
  }

  /**
   * Another control plane's compaction may have folded the deltas after `published` into a base (and
   * dropped them from the log): that base, of this history, stands for them. Its revisions are taken
   * as published — this process's own changes among them included, which the base carries — and
   * announced bare, so data planes behind it read it now rather than at their next poll.
   */
  async function adoptNewerBase(): Promise<void> {
    if (knownHistory === null) return;
    const [base, history] = await Promise.all([
      opts.bus.latestRevision(),
      opts.bus.latestHistory(),
    ]);
    if (base === null || base <= published || history !== knownHistory) return;
    published = base;
    baseRevision = Math.max(baseRevision, base);
    loggedSinceBase = 0;
    forget(published);
    await opts.bus.publish(base, '');
  }

  function armGap() {
    if (gapTimer !== null || stopped) return;
    gapTimer = setTimeout(() => {
      gapTimer = null;
      enqueue(fillGap).catch((err) => {
        gapSince = null;
        failed(err);
      });
    }, GAP_POLL_MS);
    gapTimer.unref();
  }

  /** "Latest" as this process would leave it, found in Redis: the revision it reaches, or null. */
  async function resume(): Promise<number | null> {
    const state = await opts.prisma.policyState.findUnique({ where: { id: 1 } });
    if (state === null) return null;
    const [base, history] = await Promise.all([
      opts.bus.latestRevision(),
      opts.bus.latestHistory(),
    ]);
    if (base === null || history !== state.history) return null;
    let reached = base;
    let inLog = 0;
    for (let more = true; more; ) {
      const page = await opts.bus.readDeltas(reached);
      for (const d of page) {
        if (d.revision !== reached + 1) break;
        reached = d.revision;
        inLog++;
      }
      more = page.length > 0 && page.at(-1)!.revision === reached;
    }
    if (reached < Number(state.revision)) return null;
    // Revisions the database never committed (a delta is logged after its commit): the database was
    // restored from a backup behind what Redis saw. Its history forks here — a new id, so the base
    // published next replaces the one stored and empties the log (whose revisions it will reuse).
    const now = await opts.prisma.policyState.findUniqueOrThrow({ where: { id: 1 } });
    if (reached > Number(now.revision)) {
      await opts.prisma.policyState.update({
        where: { id: 1 },
        data: { history: randomUUID() },
      });
      return null;
    }
    knownHistory = state.history;
    sizeCompaction(await opts.bus.latestLength());
    published = reached;
    baseRevision = base;
    loggedSinceBase = inLog;
    if (inLog > 0) armCompaction();
    return reached;
  }

  function publishNow(): Promise<number> {
    // Calls made while a full publish is queued (not yet running) share it.
    if (queuedFull !== null) return queuedFull;
    const run = enqueue(async () => {
      queuedFull = null;
      return publishFull();
    });
    queuedFull = run;
    return run;
  }

  return {
    start: () =>
      enqueue(async () => (published < 0 ? await resume() : null) ?? (await publishFull())),
    publishNow,
    compactNow,
    publishedRevision: () => published,
    schedule() {
      publishNow().catch(failed);
    },
    onPolicyChange(change) {
      const revision = Number(change.revision);
      if (revision <= published) return;
      pending.set(revision, change);
      enqueue(drain).catch(failed);
    },
    async idle() {
      let seen: Promise<unknown> | null = null;
      while (seen !== chain || compacting !== null) {
        seen = chain;
        await chain;
        await compacting?.catch(() => {});
      }
    },
    async stop() {
      stopped = true;
      clearInterval(baseCheck);
      for (const timer of [gapTimer, compactTimer, retryTimer]) {
        if (timer !== null) clearTimeout(timer);
      }
      gapTimer = null;
      compactTimer = null;
      retryTimer = null;
      await compacting?.catch(() => {});
      await chain;
    },
  };
}
