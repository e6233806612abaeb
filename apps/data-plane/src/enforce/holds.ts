import type { Limiter } from '@tollgate/bus';
import type { CompiledPolicy } from '@tollgate/policy';
import type { Flight } from '../flight.ts';
import type { Logger } from '../log.ts';
import type { DataPlaneMetrics } from '../metrics.ts';
import { recapped, reservedCounters } from './admission.ts';

/** Longest a request's reservation is kept alive (unless 3 × TTL is longer). */
export const MAX_RENEWED_MS = 6 * 60 * 60 * 1000;

/**
 * Keeps the hold of requests in flight on the counters, from admission to settlement: renews long
 * requests' reservations (below), puts back what a loss of the counters took, and reserves on a
 * cap set while they run (`check`, every `epochCheckMs`).
 *
 * Renewal: keeps the reservations of long requests alive. A reservation's TTL exists so that a crashed
 * replica's budget comes back; a live request that simply runs long (a slow answer, a long stream)
 * must not lose its reservation to it, or others could be admitted against budget it is spending.
 * Every admitted request is tracked until it settles; one older than a third of the TTL since its
 * last renewal has its expiry moved a full TTL ahead (one small script per long request, none for
 * the usual short ones). Should a reservation still be lost (Redis lost it, or this process could
 * not renew in time), the settle charges only what is left under the cap.
 */
export interface Holds {
  track(flight: Flight): void;
  untrack(flight: Flight): void;
  stop(): void;
}

export interface HoldsOptions {
  limiter: Pick<Limiter, 'renew' | 'reinstate' | 'epochs'>;
  reservationTtlMs: number;
  now: () => number;
  log: Logger;
  /** How often the counters-epoch markers of workspaces with requests in flight are read (and a
   * new policy is looked at for caps added while they run). Default 500 ms. */
  epochCheckMs?: number;
  /** The policy in force: a cap it adds while requests run gets their reservations (`recapped`). */
  policy?: () => CompiledPolicy | null;
  metrics?: Pick<DataPlaneMetrics, 'holdRestored'>;
}

/** An admitted request that has not settled. */
interface Held {
  /** When its reservation was last (re)set. */
  renewedAt: number;
  /** The workspace's counters-epoch marker its hold is known to be under; undefined until the
   * first check after its admission. */
  epoch: string | null | undefined;
  /** A reservation on a counter capped while it ran could not be put there yet: try again. */
  recapFailed?: boolean;
}

export function createHolds(opts: HoldsOptions): Holds {
  const ttl = opts.reservationTtlMs;
  const dueAfterMs = Math.floor(ttl / 3);
  // A request is renewed for at most this long: should a flight never settle (a bug), its
  // reservation must still end, as it did before holds existed.
  const maxRenewMs = Math.max(MAX_RENEWED_MS, 3 * ttl);
  const open = new Map<Flight, Held>();

  function tick() {
    const nowMs = opts.now();
    for (const [flight, held] of open) {
      const at = held.renewedAt;
      if (nowMs - at < dueAfterMs) continue;
      if (nowMs - flight.startedMs > maxRenewMs) {
        open.delete(flight);
        opts.log.warn('request running too long: its reservation is no longer renewed', {
          requestId: flight.requestId,
          runningMs: nowMs - flight.startedMs,
        });
        continue;
      }
      held.renewedAt = nowMs;
      const spend = reservedCounters(flight.counters);
      opts.limiter
        .renew({
          workspaceId: flight.chain.workspace.id,
          subAccountId: flight.chain.subAccount.id,
          requestId: flight.requestId,
          spend,
          nowMs,
          reservationTtlMs: ttl,
        })
        .then(
          (holding) => {
            if (holding < spend.length && !flight.done) {
              opts.log.warn('reservation lost while the request runs; its settle will be bounded', {
                requestId: flight.requestId,
                held: holding,
              });
            }
          },
          (err: unknown) => {
            // Due again at the next tick, not a third of the TTL later.
            held.renewedAt = at;
            opts.log.warn('reservation renewal failed; retried at the next tick', {
              requestId: flight.requestId,
              err: String(err),
            });
          },
        );
    }
  }

  /**
   * A loss of the counters (Redis flushed, restarted empty, failed over to an empty replica) takes
   * the reservations and concurrency slots of the requests in flight with it; the control plane
   * rebuilds the period's spend from the books, but only the replica running a request knows it is
   * still running. Without it being put back, others are admitted past the concurrency limit and
   * against budget it is spending, and its settle is bounded by what is left (under-billed). The
   * loss shows as the workspace's counters-epoch marker vanishing, then coming back with a new
   * value (`restore`): each request in flight remembers the marker it was seen under, and one that
   * changed has its hold put back (`limiter.reinstate`: the slot at once, the reservation once the
   * counters are rebuilt, never more than fits). One pipelined read per check while requests are in
   * flight, nothing more unless a marker changed. Not covered: a loss and its rebuild both between a
   * request's admission and the first check after it (`epochCheckMs`).
   */
  let checking = false;
  /** Told once per run of failed checks (Redis down), not every 500 ms. */
  let checkFailing = false;
  let policyRevision = -1;
  async function check() {
    if (checking || open.size === 0) return;
    checking = true;
    try {
      const recaps = recapAll();
      const byWorkspace = new Map<string, Flight[]>();
      for (const flight of open.keys()) {
        const ws = flight.chain.workspace.id;
        const list = byWorkspace.get(ws);
        if (list === undefined) byWorkspace.set(ws, [flight]);
        else list.push(flight);
      }
      const ids = [...byWorkspace.keys()];
      const marks = await opts.limiter.epochs(ids);
      const changed: Promise<void>[] = [];
      for (const [i, ws] of ids.entries()) {
        const mark = marks[i] ?? null;
        for (const flight of byWorkspace.get(ws) ?? []) {
          const held = open.get(flight);
          if (held === undefined) continue;
          if (held.epoch === undefined) held.epoch = mark;
          else if (held.epoch !== mark) changed.push(reinstate(flight, held, mark, 'lost'));
        }
      }
      await Promise.all([...recaps, ...changed]);
      checkFailing = false;
    } catch (err) {
      if (!checkFailing) {
        opts.log.warn('counters-epoch check failed; retried every check', { err: String(err) });
      }
      checkFailing = true;
    } finally {
      checking = false;
    }
  }

  /**
   * A new policy may cap a counter that requests in flight hold no reservation on (a workspace cap
   * set, a tag budget created): each such request gets the counter added and its reservation put
   * there — at most what fits — as if the cap had been in force at its admission.
   */
  function recapAll(): Promise<void>[] {
    const out: Promise<void>[] = [];
    for (const [flight, held] of open) {
      if (held.recapFailed !== true) continue;
      held.recapFailed = false;
      out.push(reinstate(flight, held, held.epoch, 'capped'));
    }
    const policy = opts.policy?.() ?? null;
    if (policy === null || policy.revision === policyRevision) return out;
    policyRevision = policy.revision;
    for (const [flight, held] of open) {
      const counters = recapped(policy, flight);
      if (counters === null) continue;
      flight.counters = counters;
      out.push(reinstate(flight, held, held.epoch, 'capped'));
    }
    return out;
  }

  async function reinstate(
    flight: Flight,
    held: Held,
    mark: string | null | undefined,
    why: 'lost' | 'capped',
  ) {
    try {
      const r = await opts.limiter.reinstate({
        workspaceId: flight.chain.workspace.id,
        subAccountId: flight.chain.subAccount.id,
        requestId: flight.requestId,
        spend: reservedCounters(flight.counters),
        reservedMicros: flight.reservedMicros,
        concurrencySlot: flight.chain.subAccount.maxConcurrent !== null,
        nowMs: opts.now(),
        reservationTtlMs: ttl,
      });
      // Not rebuilt yet: the slot is back; the reservation follows when the marker is.
      held.epoch = r.sealed ? mark : null;
      if (r.reservedMicros > 0) {
        opts.metrics?.holdRestored(why);
        const message =
          why === 'lost'
            ? 'counters were lost: the reservation of a request in flight is back'
            : 'a cap was set while a request ran: it now holds a reservation there too';
        opts.log.info(message, {
          requestId: flight.requestId,
          reservedMicros: r.reservedMicros,
          admittedMicros: flight.reservedMicros,
        });
      }
    } catch (err) {
      if (why === 'capped') held.recapFailed = true;
      opts.log.warn('putting a reservation back in place failed; retried at the next check', {
        requestId: flight.requestId,
        err: String(err),
      });
    }
  }

  const timer = setInterval(tick, Math.min(60_000, Math.max(100, Math.floor(ttl / 6))));
  timer.unref();
  const epochTimer = setInterval(() => void check(), opts.epochCheckMs ?? 500);
  epochTimer.unref();
  return {
    track: (flight) => {
      open.set(flight, { renewedAt: opts.now(), epoch: undefined });
    },
    untrack: (flight) => {
      open.delete(flight);
    },
    stop: () => {
      clearInterval(timer);
      clearInterval(epochTimer);
    },
  };
}
