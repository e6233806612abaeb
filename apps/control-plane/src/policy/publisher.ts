import type { PolicyBus } from '@tollgate/bus';
import type { PrismaClient } from '@tollgate/db';
import { encodeDelta, encodeSnapshot } from '@tollgate/policy';
import type { PolicyChange } from '../services/context.ts';
import { buildDelta } from './delta.ts';
import { buildSnapshot } from './snapshot.ts';

/**
 * Publishes the policy after committed admin changes (DESIGN: commit, then publish).
 *
 * - `onPolicyChange(change)` (wire it to ServiceDeps.onPolicyChange): each committed change is
 *   announced as a small delta chaining from the previous revision — O(entity), not O(policy), so
 *   100k sub-accounts do not cost a full rebuild per change. Changes are announced strictly in
 *   revision order; when one is missing (committed by another control plane, or a callback lost)
 *   for `gapWaitMs`, a full snapshot is published instead.
 * - "latest" (what data planes read on start, on a gap, on their slow timer) is rebuilt in full at
 *   most every `latestDebounceMs` after deltas, and announced bare so lagging planes re-read it.
 * - `publishNow()` builds and publishes the full snapshot (start-up, recovery, tests).
 *
 * - A publication that fails (Redis away, the database busy) is not lost: a full snapshot is
 *   published again after `retryMs.min`, then at growing intervals up to `retryMs.max`, until one
 *   goes through — so a suspension or revocation committed during a Redis outage reaches every data
 *   plane once Redis is back, without waiting for the next admin change.
 *
 * Everything runs on one serial chain, so announcements never overtake each other. With several
 * control planes each sees gaps for the others' revisions and falls back to full snapshots: correct,
 * but heavier; a shared change feed would restore deltas there.
 */
export interface PolicyPublisher {
  /** Builds and publishes the full snapshot; resolves with its revision. */
  publishNow(): Promise<number>;
  /** Fire-and-forget `publishNow`; failures go to `onError` and are retried. */
  schedule(): void;
  /** Announce one committed change (as a delta when possible). */
  onPolicyChange(change: PolicyChange): void;
  /** Waits until nothing is queued or running. */
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
  /** Delay before "latest" is rebuilt after deltas. Default 500 ms. */
  latestDebounceMs?: number;
  /** Told about each failed publication (it is retried). */
  onError?: (err: unknown) => void;
  /** Delays before a failed publication is retried (full snapshot), doubling from `min` to `max`.
   * Default 250 ms to 10 s. */
  retryMs?: { min: number; max: number };
  now?: () => Date;
}

/** How long the read of a full snapshot may hold its transaction. */
const SNAPSHOT_READ_TIMEOUT_MS = 60_000;

export function createPolicyPublisher(opts: PolicyPublisherOptions): PolicyPublisher {
  const inlineLimit = opts.inlineLimit ?? 256 * 1024;
  const onError = opts.onError ?? (() => {});
  /** Last revision announced (delta or snapshot); -1 before the first. */
  let published = -1;
  /** Revision of the snapshot stored as "latest" by this process. */
  let latestRevision = -1;
  const pending = new Map<number, PolicyChange>();
  let chain: Promise<unknown> = Promise.resolve();
  let queuedFull: Promise<number> | null = null;
  let gapTimer: NodeJS.Timeout | null = null;
  let latestTimer: NodeJS.Timeout | null = null;
  let retryTimer: NodeJS.Timeout | null = null;
  const retryMin = opts.retryMs?.min ?? 250;
  const retryMax = opts.retryMs?.max ?? 10_000;
  let retryDelay = retryMin;
  let stopped = false;

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

  async function snapshotNow(): Promise<{ revision: number; text: string }> {
    // One consistent read; the encoding (seconds at 100k sub-accounts) after it, outside the
    // transaction. Prisma's default 5 s limit expired such reads at that size, failing the publish.
    const { revision, body } = await opts.prisma.$transaction(
      async (tx) => {
        const state = await tx.policyState.findUnique({ where: { id: 1 } });
        const revision = Number(state?.revision ?? 0n);
        return { revision, body: await buildSnapshot(tx, revision, opts.now?.() ?? new Date()) };
      },
      { isolationLevel: 'RepeatableRead', timeout: SNAPSHOT_READ_TIMEOUT_MS },
    );
    return { revision, text: encodeSnapshot(body) };
  }

  function forget(upTo: number) {
    for (const rev of pending.keys()) if (rev <= upTo) pending.delete(rev);
  }

  async function publishFull(): Promise<number> {
    const { revision, text } = await snapshotNow();
    if (revision >= latestRevision) {
      await opts.bus.setLatest(text);
      latestRevision = revision;
    }
    if (revision > published || published < 0) {
      await opts.bus.publish(revision, text.length <= inlineLimit ? text : '');
      published = Math.max(published, revision);
    }
    forget(published);
    retryDelay = retryMin;
    return revision;
  }

  /** "latest" after deltas: stored, then announced bare (planes already there ignore it). */
  async function refreshLatest(): Promise<void> {
    const { revision, text } = await snapshotNow();
    if (revision <= latestRevision) return;
    await opts.bus.setLatest(text);
    latestRevision = revision;
    await opts.bus.publish(revision, '');
  }

  function scheduleLatest() {
    if (latestTimer !== null || stopped) return;
    latestTimer = setTimeout(() => {
      latestTimer = null;
      enqueue(refreshLatest).catch(failed);
    }, opts.latestDebounceMs ?? 500);
    latestTimer.unref();
  }

  async function drain(): Promise<void> {
    if (published < 0) await publishFull();
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
      await opts.bus.publish(delta.revision, encodeDelta(delta));
      published = delta.revision;
      scheduleLatest();
    }
    forget(published);
    if (pending.size > 0 && gapTimer === null && !stopped) {
      gapTimer = setTimeout(() => {
        gapTimer = null;
        if (pending.size > 0) publishNow().catch(failed);
      }, opts.gapWaitMs ?? 250);
      gapTimer.unref();
    }
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
    publishNow,
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
      while (seen !== chain) {
        seen = chain;
        await chain;
      }
    },
    async stop() {
      stopped = true;
      if (gapTimer !== null) clearTimeout(gapTimer);
      if (latestTimer !== null) clearTimeout(latestTimer);
      if (retryTimer !== null) clearTimeout(retryTimer);
      gapTimer = null;
      latestTimer = null;
      retryTimer = null;
      await chain;
    },
  };
}
