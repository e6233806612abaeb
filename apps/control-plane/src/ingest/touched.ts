import type { UsageEvent } from '@tollgate/usage';
import type { BooksScope } from './books.ts';
import { type CounterChange, countersOfChange } from './catch-up.ts';

/**
 * Which spend counters may have fallen behind the books since the top-up last read them (see
 * top-up.ts), so that a pass reads the books of those only — not of every counter of every
 * workspace, every minute. A counter falls behind when spend reaches the books without reaching it:
 * - usage written to the books (a settle given up on while Redis was away, a request served
 *   unreserved under `fail-open`): its sub-account's counter, its tags' budgets, the workspace's;
 * - a policy change that puts a counter in force (the catch-up raises it inside the change's
 *   transaction, but reports and swallows a failure): the counters of the changed entity.
 *
 * Kept in memory by each control plane, for what it ingested and changed itself. What that misses
 * (a control plane that died between acknowledging a delivery and its next pass, a counter Redis
 * evicted alone) is caught by the top-up's slow full pass; a loss of the counters by the rebuild
 * and the full read that follows it.
 */

/** More sub-accounts (or tags) than this touched in one workspace between two passes: the next pass
 * reads all of its counters — one read of the workspace's rollups then costs less than a list of
 * ids this long, and the set stays bounded whatever the traffic. */
export const TOUCHED_MAX = 10_000;

/** What the next pass must read of one workspace's counters. */
export interface WorkspaceTouch {
  /** Every counter of the workspace. */
  all: boolean;
  subAccountIds: Set<string>;
  tags: Set<string>;
  /** Counters of policy changes other than a sub-account's (a tag budget, a plan, the workspace). */
  scopes: Map<string, BooksScope>;
}

/** The usage fields that say which counters an event charged. */
export type TouchingUsage = Pick<
  UsageEvent,
  'workspaceId' | 'subAccountId' | 'tags' | 'billedCostMicros'
>;

export interface TouchedCounters {
  /** Usage written to the books (replays included: a delivery retried after a crash marks them
   * again). Events billed nothing change no figure and are skipped. */
  usage(events: readonly TouchingUsage[]): void;
  /** A committed policy change: the counters it puts in force (those the catch-up raises). */
  change(change: CounterChange): void;
  /** What was marked since the last take, by workspace; the caller puts back what it could not do. */
  take(): Map<string, WorkspaceTouch>;
  putBack(workspaceId: string, touch: WorkspaceTouch): void;
}

const emptyTouch = (): WorkspaceTouch => ({
  all: false,
  subAccountIds: new Set(),
  tags: new Set(),
  scopes: new Map(),
});

/** Past the bound, a touch becomes "every counter" (and forgets the details it subsumes). */
function bound(t: WorkspaceTouch) {
  if (!t.all && t.subAccountIds.size <= TOUCHED_MAX && t.tags.size <= TOUCHED_MAX) return;
  t.all = true;
  t.subAccountIds.clear();
  t.tags.clear();
  t.scopes.clear();
}

export function createTouchedCounters(): TouchedCounters {
  let marked = new Map<string, WorkspaceTouch>();
  const touch = (ws: string) => marked.get(ws) ?? marked.set(ws, emptyTouch()).get(ws)!;
  return {
    usage(events) {
      for (const e of events) {
        if (e.billedCostMicros <= 0) continue;
        const t = touch(e.workspaceId);
        if (t.all) continue;
        if (e.subAccountId) t.subAccountIds.add(e.subAccountId);
        for (const tag of e.tags) t.tags.add(tag);
        bound(t);
      }
    },
    change(change) {
      const scope = countersOfChange(change);
      if (scope === null) return;
      const t = touch(change.workspaceId);
      if (t.all) return;
      if (scope.kind === 'sub_account') t.subAccountIds.add(scope.id);
      else t.scopes.set(`${scope.kind}:${'id' in scope ? scope.id : ''}`, scope);
      bound(t);
    },
    take() {
      const taken = marked;
      marked = new Map();
      return taken;
    },
    putBack(ws, back) {
      const t = touch(ws);
      if (back.all) t.all = true;
      if (!t.all) {
        for (const id of back.subAccountIds) t.subAccountIds.add(id);
        for (const tag of back.tags) t.tags.add(tag);
        for (const [k, s] of back.scopes) t.scopes.set(k, s);
      }
      bound(t);
    },
  };
}
