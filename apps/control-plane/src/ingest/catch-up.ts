import type { Limiter } from '@tollgate/bus';
import { type BooksReader, type BooksScope, booksBalances } from './books.ts';

/** The policy change a catch-up is for (a subset of services' PolicyChange). */
export interface CounterChange {
  workspaceId: string;
  kind: string;
  id: string;
}

/**
 * Catch-up of the spend counters a policy change puts in force mid-period (SPEC §6, the cap
 * guarantee). The data plane counts `tag:<name>` only while the tag has a budget, and keys every
 * counter by the period of its budget; so a tag budget created (or re-created) mid-period, or a
 * budget period changed (monthly → daily), meets a counter that is absent or stale although the
 * books hold spend of that period — the budget could be overspent by as much.
 *
 * Called by `mutate` inside the change's transaction, before it commits: the books are read through
 * the transaction (which sees the new budget or period) and every counter of the changed entity is
 * raised to its books' figure (`limiter.raise`: never lowered, so a live counter ahead of the books
 * is left alone). Before commit rather than after: nothing can publish the change (a delta, a full
 * snapshot another task builds concurrently, another control plane's snapshot) before the counters
 * hold the books. A transaction that then fails leaves a counter raised to a figure the period
 * really spent — harmless.
 *
 * Never throws: a failure (Redis unreachable) is reported and the change goes on. Refusing the
 * change instead would block emergency edits (suspending a sub-account) during a Redis incident,
 * while the data planes fail closed then anyway; a lost Redis is rebuilt from the books by the
 * reconciler, which covers these counters too, and the reconciler's next top-up reads the changed
 * entity's counters again once the change committed (touched.ts). Workspaces whose epoch marker is
 * missing are skipped for the same reason (and because `restore` adds the books to counters created
 * after the loss).
 *
 * Left open: spend of requests admitted before the data plane learns the change (or settled but
 * not ingested yet) is in neither figure; it is bounded by the requests in flight at that moment.
 */
export interface CounterCatchUpOptions {
  limiter: Pick<Limiter, 'epochs' | 'raise'>;
  now?: () => number;
  /** Told about each counter raised. */
  onRaised?: (workspaceId: string, scope: string, periodKey: string, spentMicros: number) => void;
  onError?: (err: unknown) => void;
}

export type CounterCatchUp = (db: BooksReader, change: CounterChange) => Promise<void>;

const CATCH_UP_KINDS: Record<string, (id: string) => BooksScope> = {
  workspace: () => ({ kind: 'workspace' }),
  sub_account: (id) => ({ kind: 'sub_account', id }),
  tag_budget: (id) => ({ kind: 'tag_budget', id }),
  // A plan change may change the period of every sub-account on it (read after the update).
  plan: (id) => ({ kind: 'plan', id }),
};

/** The counters a policy change puts in force, as a books scope; null for a change that puts none
 * in force (a key, a price, a provider key). */
export function countersOfChange(change: CounterChange): BooksScope | null {
  return CATCH_UP_KINDS[change.kind]?.(change.id) ?? null;
}

export function createCounterCatchUp(opts: CounterCatchUpOptions): CounterCatchUp {
  const now = opts.now ?? Date.now;
  return async (db, change) => {
    const scope = countersOfChange(change);
    if (scope === null) return;
    try {
      const [epoch] = await opts.limiter.epochs([change.workspaceId]);
      if (epoch === null || epoch === undefined) return;
      const nowMs = now();
      const balances = await booksBalances(db, change.workspaceId, nowMs, scope);
      for (const { counter, spentMicros } of balances) {
        if (await opts.limiter.raise(change.workspaceId, counter, spentMicros)) {
          opts.onRaised?.(change.workspaceId, counter.scope, counter.periodKey, spentMicros);
        }
      }
    } catch (err) {
      opts.onError?.(err);
    }
  };
}
