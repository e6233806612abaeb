import type { PrismaClient } from '@tollgate/db';
import type { UsageEvent } from '@tollgate/usage';
import type { CreatedEvents } from '../services/context.ts';
import type { EventHub } from './hub.ts';
import { recordEvents, storeEvents } from './record.ts';
import { evaluateUsage } from './thresholds.ts';
import type { EventDraft, StoredEvent } from './types.ts';

export interface EventPipelineOptions {
  prisma: PrismaClient;
  hub: EventHub;
  /** Warning thresholds as fractions of a cap. Default [0.8]. */
  thresholds?: readonly number[];
  /** Told after events and their webhook deliveries committed (e.g. to wake the dispatcher). */
  onStored?: (events: StoredEvent[]) => void;
  onError?: (err: unknown) => void;
  now?: () => number;
}

export interface EventPipeline {
  /** After usage is written: evaluate, store (with deliveries), then publish. Throws when the store
   * fails, so the ingest retries the batch (every event is deduplicated). */
  afterUsage(usage: readonly UsageEvent[]): Promise<void>;
  /** Stores and publishes drafts (sub-account created, endpoint disabled, …). */
  emit(drafts: readonly EventDraft[]): Promise<StoredEvent[]>;
  /** For ServiceDeps.createdEvents: `sub_account.created`, stored in the creation's transaction. */
  subAccountCreated: CreatedEvents;
  /** For the dispatcher: an endpoint was disabled after repeated failure. */
  onEndpointDisabled(endpoint: { id: string; workspaceId: string; url: string }): void;
}

/** DESIGN: write usage → evaluate thresholds → store events → (commit) → publish and deliver. */
export function createEventPipeline(opts: EventPipelineOptions): EventPipeline {
  const now = opts.now ?? Date.now;
  async function emit(drafts: readonly EventDraft[]): Promise<StoredEvent[]> {
    const stored = await recordEvents(opts.prisma, drafts, () => new Date(now()));
    if (stored.length > 0) {
      opts.onStored?.(stored);
      await opts.hub.publish(stored);
    }
    return stored;
  }
  return {
    emit,
    async afterUsage(usage) {
      const { drafts, spend } = await evaluateUsage(opts.prisma, usage, {
        thresholds: opts.thresholds,
        nowMs: now(),
      });
      await emit(drafts);
      await opts.hub.publish([], spend);
    },
    subAccountCreated: {
      store: (tx, workspaceId, subAccountId, data) =>
        storeEvents(
          tx,
          [
            {
              workspaceId,
              subAccountId,
              tag: null,
              type: 'created',
              scope: 'sub_account',
              eventType: 'sub_account.created',
              dedupeKey: `${workspaceId}:sa:${subAccountId}:created`,
              data,
            },
          ],
          () => new Date(now()),
        ),
      announce(stored) {
        if (stored.length === 0) return;
        opts.onStored?.(stored);
        opts.hub.publish(stored).catch((err) => opts.onError?.(err));
      },
    },
    onEndpointDisabled(endpoint) {
      emit([
        {
          workspaceId: endpoint.workspaceId,
          subAccountId: null,
          tag: null,
          type: 'webhook_disabled',
          scope: 'workspace',
          eventType: 'webhook.endpoint.disabled',
          dedupeKey: null,
          data: { webhook_id: endpoint.id, url: endpoint.url, reason: 'repeated_failure' },
        },
      ]).catch((err) => opts.onError?.(err));
    },
  };
}
