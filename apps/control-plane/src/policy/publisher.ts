import type { PolicyBus } from '@tollgate/bus';
import type { PrismaClient } from '@tollgate/db';
import { encodeSnapshot } from '@tollgate/policy';
import { buildSnapshot } from './snapshot.ts';

/**
 * Publishes the policy after committed admin changes (DESIGN: commit, then publish). Each publish
 * builds the full snapshot in one repeatable-read transaction (revision and entities from the same
 * instant), stores it as "latest", then announces the revision. Snapshots up to `inlineLimit`
 * characters ride inside the announcement; larger ones are announced bare and subscribers re-read
 * "latest".
 *
 * Calls are coalesced: while one publish runs, any number of further calls share a single follow-up
 * publish, so a burst of changes costs two snapshot builds, and revisions go out in order.
 *
 * TODO(scale): incremental deltas per PolicyChange instead of a full snapshot per change.
 */
export interface PolicyPublisher {
  /** Builds and publishes now; resolves with the revision published. */
  publishNow(): Promise<number>;
  /** Fire-and-forget form for `onPolicyChange`; failures go to `onError`. */
  schedule(): void;
  /** Waits for publishes in flight. */
  idle(): Promise<void>;
}

export interface PolicyPublisherOptions {
  prisma: PrismaClient;
  bus: PolicyBus;
  /** Largest snapshot sent inline in the announcement. Default 256 KiB. */
  inlineLimit?: number;
  onError?: (err: unknown) => void;
  now?: () => Date;
}

export function createPolicyPublisher(opts: PolicyPublisherOptions): PolicyPublisher {
  const inlineLimit = opts.inlineLimit ?? 256 * 1024;
  let lastPublished = -1;
  let running: Promise<number> | null = null;
  let queued: Promise<number> | null = null;

  async function buildAndSend(): Promise<number> {
    const { revision, text } = await opts.prisma.$transaction(
      async (tx) => {
        const state = await tx.policyState.findUnique({ where: { id: 1 } });
        const rev = Number(state?.revision ?? 0n);
        const body = await buildSnapshot(tx, rev, opts.now?.() ?? new Date());
        return { revision: rev, text: encodeSnapshot(body) };
      },
      { isolationLevel: 'RepeatableRead' },
    );
    // Never move "latest" backwards within this process (an older build finishing late).
    if (revision < lastPublished) return lastPublished;
    await opts.bus.setLatest(text);
    await opts.bus.publish(revision, text.length <= inlineLimit ? text : '');
    lastPublished = revision;
    return revision;
  }

  function publishNow(): Promise<number> {
    if (running === null) {
      running = buildAndSend().finally(() => {
        running = null;
      });
      return running;
    }
    if (queued === null) {
      const after = running.catch(() => undefined);
      queued = after.then(() => {
        queued = null;
        return publishNow();
      });
    }
    return queued;
  }

  return {
    publishNow,
    schedule() {
      publishNow().catch((err) => opts.onError?.(err));
    },
    async idle() {
      while (running !== null || queued !== null) {
        await Promise.allSettled([running, queued]);
      }
    },
  };
}
