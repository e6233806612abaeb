import type { Limiter } from '@tollgate/bus';
import type { Prisma, PrismaClient } from '@tollgate/db';
import type { StoredEvent } from '../events/types.ts';
import { newId } from '../lib/ids.ts';

/** What a policy-affecting change touched, so the publisher can send an incremental update. */
export interface PolicyChange {
  workspaceId: string;
  kind: 'workspace' | 'sub_account' | 'key' | 'tag_budget' | 'price' | 'provider_key' | 'plan';
  id: string;
  revision: bigint;
  /** An entity deleted outright, by its identity on the policy wire: prices and provider routes
   * are known there by what they price or route, which dies with the row (`id` alone cannot say). */
  removed?: PolicyRemoval;
}

export type PolicyRemoval =
  | { kind: 'price'; model: string }
  | { kind: 'provider_key'; provider: string; subAccountId: string };

/**
 * The `sub_account.created` event (SPEC §8): stored, with its webhook deliveries, in the creation's
 * own transaction (an outbox: never lost after the commit, never sent for a creation rolled back),
 * announced live after the commit.
 */
export interface CreatedEvents {
  /** `data`: what the event tells of the new sub-account (name, external id, cap). */
  store(
    tx: Tx,
    workspaceId: string,
    subAccountId: string,
    data: Record<string, unknown>,
  ): Promise<StoredEvent[]>;
  announce(stored: StoredEvent[]): void;
}

/** Optional view of live reservations (Redis or in-process counters), for `reserved_cents`. */
export interface ReservationView {
  /** What is reserved on each counter (`scope` in `period`) of one workspace, in one read. */
  reservedMicros(
    workspaceId: string,
    counters: readonly { scope: string; period: string }[],
  ): Promise<number[]>;
}

/**
 * The reservations held now on the limiter's counters (what requests in flight may still spend).
 * Reads nothing else; a limiter that cannot be reached reads as 0 rather than failing the read of
 * the sub-account (its settled spend comes from the books either way).
 */
export function reservationView(limiter: Pick<Limiter, 'spent'>): ReservationView {
  return {
    async reservedMicros(workspaceId, counters) {
      const asked = counters.map((c) => ({ scope: c.scope, capMicros: null, periodKey: c.period }));
      const balances = await limiter.spent(workspaceId, asked).catch(() => []);
      return counters.map((_, i) => balances[i]?.reservedMicros ?? 0);
    },
  };
}

export interface ServiceDeps {
  prisma: PrismaClient;
  /** 32-byte key sealing provider keys and webhook secrets (AES-256-GCM). */
  secretKey: Buffer;
  /** Called after a change commits — never inside the transaction (DESIGN: commit, then publish). */
  onPolicyChange?: (change: PolicyChange) => void;
  /** Called inside the transaction of a policy change, before it commits (so before any plane can
   * hear of it): raises the spend counters the change puts in force to the books' figures (see
   * createCounterCatchUp). Must not throw. */
  catchUpCounters?: (tx: Tx, change: Omit<PolicyChange, 'revision'>) => Promise<void>;
  /** The `created` event of a sub-account, stored with it (absent: no event services). */
  createdEvents?: CreatedEvents;
  reservations?: ReservationView;
  now?: () => Date;
}

/** Who is acting: the workspace every query is scoped to, and the actor for the audit log. */
export interface Caller {
  workspaceId: string;
  actor: string;
  /** Set only for a sub-account key: the one sub-account this caller is (own-usage reads). */
  subAccountId?: string;
}

export type Tx = Prisma.TransactionClient;

interface Audit {
  action: string;
  targetType: string;
  targetId: string;
  data?: Prisma.InputJsonValue;
}

/**
 * Runs an admin change in one transaction with its audit entry and, when it affects policy, a
 * bump of the global policy revision. Listeners hear about it only after the commit.
 */
export async function mutate<T>(
  deps: ServiceDeps,
  caller: Caller,
  audit: (result: T) => Audit,
  policyKind: PolicyChange['kind'] | null,
  fn: (tx: Tx) => Promise<T>,
  removed?: (result: T) => PolicyRemoval,
): Promise<T> {
  let revision = 0n;
  const result = await deps.prisma.$transaction(async (tx: Tx) => {
    const value = await fn(tx);
    const entry = audit(value);
    await tx.auditLog.create({
      data: {
        id: newId('aud'),
        workspaceId: caller.workspaceId,
        actor: caller.actor,
        ...entry,
        data: entry.data ?? {},
      },
    });
    if (policyKind) {
      // Before the revision bump: the counters are caught up without holding its row lock.
      await deps.catchUpCounters?.(tx, {
        workspaceId: caller.workspaceId,
        kind: policyKind,
        id: entry.targetId,
      });
      const state = await tx.policyState.upsert({
        where: { id: 1 },
        create: { id: 1, revision: 1n },
        update: { revision: { increment: 1n } },
      });
      revision = state.revision;
    }
    return value;
  });
  if (policyKind) {
    const { targetId } = audit(result);
    deps.onPolicyChange?.({
      workspaceId: caller.workspaceId,
      kind: policyKind,
      id: targetId,
      revision,
      ...(removed ? { removed: removed(result) } : {}),
    });
  }
  return result;
}
