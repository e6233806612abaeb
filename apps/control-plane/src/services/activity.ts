import { type BudgetEvent, Prisma } from '@tollgate/db';
import type { BudgetEventType, StoredEvent } from '../events/types.ts';
import type { ServiceDeps } from './context.ts';
import { type KeysetPage, keysetOrder, keysetPage } from './keyset.ts';
import { DEFAULT_PAGE } from './pagination.ts';

/**
 * What the ops console shows of a sub-account's activity beyond its usage report: its latest
 * requests and its stored budget events, both newest first and paged by their order columns. The
 * sub-account is one already found in the caller's workspace.
 */

const REQUESTS = keysetOrder('UsageRecord', 'startedAt', 'requestId', 'desc');
const EVENTS = keysetOrder('BudgetEvent', 'createdAt', 'id', 'desc');

/** Its usage records, newest first (`startedAt`, then `requestId`, descending). */
export function requestsOf(
  deps: ServiceDeps,
  sa: { id: string; workspaceId: string },
  page: KeysetPage = {},
) {
  return keysetPage(
    deps.prisma,
    REQUESTS,
    Prisma.sql`"subAccountId" = ${sa.id} AND "workspaceId" = ${sa.workspaceId}`,
    { after: page.after, take: page.take ?? DEFAULT_PAGE },
    (ids) =>
      deps.prisma.usageRecord.findMany({
        where: { requestId: { in: ids }, workspaceId: sa.workspaceId },
      }),
  );
}

/** A stored row as the event it was published as. */
function storedEvent(e: BudgetEvent): StoredEvent {
  const data = (e.data ?? {}) as Record<string, unknown>;
  return {
    id: e.id,
    workspaceId: e.workspaceId,
    subAccountId: e.subAccountId,
    tag: e.tag,
    type: e.type as BudgetEventType,
    scope: (data.scope as StoredEvent['scope']) ?? 'sub_account',
    eventType: typeof data.event_type === 'string' ? data.event_type : `budget.${e.type}`,
    dedupeKey: e.dedupeKey,
    data,
    createdAt: e.createdAt.toISOString(),
  };
}

/** Its stored budget events (`webhook_disabled` is none), newest first (`createdAt`, then `id`,
 * descending). */
export async function budgetEventsOf(
  deps: ServiceDeps,
  sa: { id: string; workspaceId: string },
  page: KeysetPage = {},
): Promise<StoredEvent[]> {
  const found = await keysetPage(
    deps.prisma,
    EVENTS,
    Prisma.sql`"subAccountId" = ${sa.id} AND "workspaceId" = ${sa.workspaceId}
      AND "type" <> 'webhook_disabled'`,
    { after: page.after, take: page.take ?? DEFAULT_PAGE },
    (ids) =>
      deps.prisma.budgetEvent.findMany({ where: { id: { in: ids }, workspaceId: sa.workspaceId } }),
  );
  return found.map(storedEvent);
}
