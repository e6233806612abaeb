import { performance } from 'node:perf_hooks';
import type { CounterBalanceFromBooks, Limiter } from '@tollgate/bus';
import type { PrismaClient } from '@tollgate/db';
import { type BooksScope, booksBalances } from './books.ts';
import type { TouchedCounters, WorkspaceTouch } from './touched.ts';

/**
 * The top-up (DESIGN: counters "reconciled on a timer"): counters raised to the books' figure when
 * they hold less — spend that reached the books but never the counters (a settle given up on while
 * Redis was away, a request served unreserved under `fail-open` that could not settle). Never
 * lowered: a counter ahead of the books holds spend still on its way to them.
 *
 * What a pass reads of a workspace whose counters are in place (epoch marker set):
 * - every counter, the first time it sees the workspace under its current epoch (at start, and
 *   after every rebuild: a loss and the rebuild both happen between two passes), on the slow full
 *   pass (`fullEveryMs`, the safety net), and on every pass when it has no `touched` tracker;
 * - otherwise only the counters `touched` marked since the last pass (usage ingested, policy
 *   changes), and nothing at all of a workspace with none.
 * Each workspace's counters go to `limiter.raiseMany`: RAISE_CHUNK counters per atomic step, which
 * also refuses to act once the workspace's marker is gone (the rebuild then gives them the books).
 * A workspace that fails is reported and read again next pass.
 */
export interface CounterTopUpOptions {
  prisma: PrismaClient;
  limiter: Pick<Limiter, 'raiseMany'>;
  now: () => number;
  touched?: TouchedCounters;
  /** Period of the full pass when `touched` is given. Default 600 000 ms. */
  fullEveryMs?: number;
  /** Per counter raised (debug detail: the pass's summary says how many and how much). */
  onRaised?: (
    workspaceId: string,
    scope: string,
    periodKey: string,
    spentMicros: number,
    beforeMicros: number,
  ) => void;
  onError?: (err: unknown) => void;
}

/** One pass, for one log line. Money in micro-USD. */
export interface CounterTopUpSummary {
  /** Workspaces of which every counter was read (see above). */
  fullWorkspaces: number;
  /** Workspaces of which only the touched counters were read. */
  touchedWorkspaces: number;
  /** Counters compared with the books (handed to the limiter). */
  counters: number;
  /** Counters raised, and by how much in all. */
  raised: number;
  raisedMicros: number;
  /** The largest single raise, or null. */
  largest: {
    workspaceId: string;
    scope: string;
    periodKey: string;
    beforeMicros: number;
    spentMicros: number;
  } | null;
  /** The (at most 10) workspaces with the most raised, most first. */
  byWorkspace: { workspaceId: string; raised: number; raisedMicros: number }[];
  /** Workspaces whose top-up failed (reported to onError; read again next pass). */
  failed: number;
  ms: number;
}

/** A workspace and its counters-epoch marker (null: its counters are lost, the rebuild's job). */
export interface WorkspaceEpoch {
  id: string;
  epoch: string | null;
}

/** The books of the touched counters only; a counter two reads both answer is kept once, at the
 * larger figure (both are settled spend of the period). */
async function touchedBalances(
  prisma: PrismaClient,
  workspaceId: string,
  nowMs: number,
  t: WorkspaceTouch,
): Promise<CounterBalanceFromBooks[]> {
  const reads: BooksScope[] = [...t.scopes.values()];
  if (t.subAccountIds.size > 0 || t.tags.size > 0 || reads.length === 0) {
    reads.push({ kind: 'touched', subAccountIds: [...t.subAccountIds], tags: [...t.tags] });
  }
  const byScope = new Map<string, CounterBalanceFromBooks>();
  for (const scope of reads) {
    for (const b of await booksBalances(prisma, workspaceId, nowMs, scope)) {
      const seen = byScope.get(b.counter.scope);
      if (seen === undefined || seen.spentMicros < b.spentMicros) byScope.set(b.counter.scope, b);
    }
  }
  return [...byScope.values()];
}

const emptySummary = (): CounterTopUpSummary => ({
  fullWorkspaces: 0,
  touchedWorkspaces: 0,
  counters: 0,
  raised: 0,
  raisedMicros: 0,
  largest: null,
  byWorkspace: [],
  failed: 0,
  ms: 0,
});

export function createCounterTopUp(
  opts: CounterTopUpOptions,
): (workspaces: WorkspaceEpoch[]) => Promise<CounterTopUpSummary> {
  const fullEveryMs = opts.fullEveryMs ?? 600_000;
  /** Per workspace, the epoch under which this top-up last read every counter of it. */
  const readWhole = new Map<string, string>();
  let lastFullAt = Number.NEGATIVE_INFINITY;

  /** Adds one workspace's raises to the summary. */
  function count(
    s: CounterTopUpSummary,
    ws: string,
    balances: CounterBalanceFromBooks[],
    before: (number | null)[],
  ) {
    let raised = 0;
    let micros = 0;
    balances.forEach(({ counter, spentMicros }, i) => {
      const was = before[i];
      if (was === null || was === undefined) return;
      raised++;
      micros += spentMicros - was;
      opts.onRaised?.(ws, counter.scope, counter.periodKey, spentMicros, was);
      const l = s.largest;
      if (l === null || spentMicros - was > l.spentMicros - l.beforeMicros) {
        s.largest = {
          workspaceId: ws,
          scope: counter.scope,
          periodKey: counter.periodKey,
          beforeMicros: was,
          spentMicros,
        };
      }
    });
    s.counters += balances.length;
    if (raised === 0) return;
    s.raised += raised;
    s.raisedMicros += micros;
    s.byWorkspace.push({ workspaceId: ws, raised, raisedMicros: micros });
  }

  return async (workspaces) => {
    const started = performance.now();
    const nowMs = opts.now();
    const full = opts.touched === undefined || nowMs - lastFullAt >= fullEveryMs;
    if (full) lastFullAt = nowMs;
    const touches = opts.touched?.take() ?? new Map<string, WorkspaceTouch>();
    const s = emptySummary();
    for (const { id, epoch } of workspaces) {
      const touch = touches.get(id);
      // Lost: the rebuild gives every counter the books, and a whole read follows it.
      if (epoch === null) {
        readWhole.delete(id);
        continue;
      }
      const whole = full || touch?.all === true || readWhole.get(id) !== epoch;
      if (!whole && touch === undefined) continue;
      try {
        const balances = whole
          ? await booksBalances(opts.prisma, id, nowMs)
          : await touchedBalances(opts.prisma, id, nowMs, touch!);
        const done = await opts.limiter.raiseMany(id, balances);
        count(s, id, balances, done.before);
        if (!done.sealed) readWhole.delete(id);
        else if (whole) readWhole.set(id, epoch);
        if (whole) s.fullWorkspaces++;
        else s.touchedWorkspaces++;
      } catch (err) {
        s.failed++;
        readWhole.delete(id);
        if (touch !== undefined) opts.touched?.putBack(id, touch);
        opts.onError?.(err);
      }
    }
    s.byWorkspace.sort((a, b) => b.raisedMicros - a.raisedMicros).splice(10);
    s.ms = Math.round(performance.now() - started);
    return s;
  };
}
