import type { PrismaClient, Tx } from '@tollgate/db';
import { newId } from '../lib/ids.ts';
import type { EventDraft, StoredEvent } from './types.ts';
import { webhookBody } from './types.ts';

/**
 * Stores events and, in the same transaction, one webhook delivery per enabled endpoint of the
 * workspace subscribed to the event (a transactional outbox: an event is never stored without its
 * deliveries, nor delivered without being stored). A draft whose dedupe key exists already is
 * skipped — the unique index makes "once" hold across control-plane replicas and ingest replays.
 * Answers the events actually stored, in draft order; the caller publishes them after the commit.
 */
export async function recordEvents(
  prisma: PrismaClient,
  drafts: readonly EventDraft[],
  now: () => Date = () => new Date(),
): Promise<StoredEvent[]> {
  if (drafts.length === 0) return [];
  return prisma.$transaction((tx: Tx) => storeEvents(tx, drafts, now));
}

/** `recordEvents` inside a transaction of the caller's (the event commits with the change that
 * caused it, or not at all). */
export async function storeEvents(
  tx: Tx,
  drafts: readonly EventDraft[],
  now: () => Date = () => new Date(),
): Promise<StoredEvent[]> {
  const stored: StoredEvent[] = [];
  const endpoints = new Map<string, { id: string; events: string[] }[]>();
  for (const d of drafts) {
    const id = newId('evt');
    const at = now();
    const data = { ...d.data, scope: d.scope, event_type: d.eventType };
    const rows = await tx.$queryRaw<{ id: string }[]>`
      INSERT INTO "BudgetEvent" (id, "workspaceId", "subAccountId", tag, type, "dedupeKey", data, "createdAt")
      VALUES (${id}, ${d.workspaceId}, ${d.subAccountId}, ${d.tag}, ${d.type}, ${d.dedupeKey},
        ${JSON.stringify(data)}::jsonb, ${at})
      ON CONFLICT ("dedupeKey") DO NOTHING
      RETURNING id`;
    if (rows.length === 0) continue;
    const event: StoredEvent = { ...d, id, createdAt: at.toISOString() };
    stored.push(event);
    let targets = endpoints.get(d.workspaceId);
    if (!targets) {
      targets = await tx.webhookEndpoint.findMany({
        where: { workspaceId: d.workspaceId, status: 'enabled' },
        select: { id: true, events: true },
      });
      endpoints.set(d.workspaceId, targets);
    }
    const to = targets.filter((t) => t.events.includes(d.eventType));
    if (to.length > 0) {
      await tx.webhookDelivery.createMany({
        data: to.map((t) => ({
          id: newId('msg'),
          endpointId: t.id,
          workspaceId: d.workspaceId,
          eventType: d.eventType,
          payload: webhookBody(event) as object,
          nextAttemptAt: at,
        })),
      });
    }
  }
  return stored;
}
