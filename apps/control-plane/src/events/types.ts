/**
 * Budget events (SPEC §8) as the control plane hands them around after they are stored: to GraphQL
 * subscribers (through the event bus, across replicas) and, in snake_case, to webhook receivers.
 */

export const BUDGET_EVENT_TYPES = [
  'created',
  'warning',
  'exhausted',
  'rate_limited',
  'request_failed',
  'balance_low',
] as const;
export type BudgetEventType = (typeof BUDGET_EVENT_TYPES)[number];

/** Which budget an event is about. */
export type EventScope = 'sub_account' | 'tag' | 'workspace';

/** An event about to be stored; `dedupeKey` makes "once per period / minute / request" hold. */
export interface EventDraft {
  workspaceId: string;
  subAccountId: string | null;
  tag: string | null;
  /** BudgetEvent.type; `webhook_disabled` is stored too but is not a budget event. */
  type: BudgetEventType | 'webhook_disabled';
  scope: EventScope;
  /** Webhook event name (services/webhooks.ts WEBHOOK_EVENTS). */
  eventType: string;
  dedupeKey: string | null;
  /** Extra fields, already snake_case (they go on the wire as they are). */
  data: Record<string, unknown>;
}

/** A stored event, as published. */
export interface StoredEvent extends EventDraft {
  id: string;
  createdAt: string;
}

/** Live spend of one sub-account after an ingest (integer micro-USD). */
export interface SpendUpdate {
  workspaceId: string;
  subAccountId: string;
  spentMicros: number;
  capMicros: number | null;
  periodKey: string;
  at: string;
}

/** What travels on the event bus. */
export type LiveMessage =
  | { kind: 'event'; event: StoredEvent }
  | { kind: 'spend'; update: SpendUpdate };

export function encodeLive(message: LiveMessage): string {
  return JSON.stringify({ v: 1, ...message });
}

/** Null for anything this version does not understand (a newer replica's message). */
export function decodeLive(raw: string): LiveMessage | null {
  try {
    const m = JSON.parse(raw) as { v?: number } & LiveMessage;
    if (m.v !== 1) return null;
    if (m.kind === 'event' && m.event && typeof m.event.workspaceId === 'string') return m;
    if (m.kind === 'spend' && m.update && typeof m.update.workspaceId === 'string') return m;
    return null;
  } catch {
    return null;
  }
}

/** The webhook body (Standard Webhooks' recommended `{ type, timestamp, data }`). */
export function webhookBody(e: StoredEvent): Record<string, unknown> {
  return {
    type: e.eventType,
    timestamp: e.createdAt,
    data: {
      id: e.id,
      workspace_id: e.workspaceId,
      sub_account_id: e.subAccountId,
      tag: e.tag,
      scope: e.scope,
      ...e.data,
    },
  };
}
