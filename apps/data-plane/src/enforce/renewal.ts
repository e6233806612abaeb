import type { Limiter } from '@tollgate/bus';
import type { Flight } from '../flight.ts';
import type { Logger } from '../log.ts';
import { reservedCounters } from './admission.ts';

/** Longest a request's reservation is kept alive (unless 3 × TTL is longer). */
export const MAX_RENEWED_MS = 6 * 60 * 60 * 1000;

/**
 * Keeps the reservations of long requests alive. A reservation's TTL exists so that a crashed
 * replica's budget comes back; a live request that simply runs long (a slow answer, a long stream)
 * must not lose its reservation to it, or others could be admitted against budget it is spending.
 * Every admitted request is tracked until it settles; one older than a third of the TTL since its
 * last renewal has its expiry moved a full TTL ahead (one small script per long request, none for
 * the usual short ones). Should a reservation still be lost (Redis lost it, or this process could
 * not renew in time), the settle charges only what is left under the cap.
 */
export interface Renewals {
  track(flight: Flight): void;
  untrack(flight: Flight): void;
  stop(): void;
}

export interface RenewalOptions {
  limiter: Pick<Limiter, 'renew'>;
  reservationTtlMs: number;
  now: () => number;
  log: Logger;
}

export function createRenewals(opts: RenewalOptions): Renewals {
  const ttl = opts.reservationTtlMs;
  const dueAfterMs = Math.floor(ttl / 3);
  // A request is renewed for at most this long: should a flight never settle (a bug), its
  // reservation must still end, as it did before renewals existed.
  const maxRenewMs = Math.max(MAX_RENEWED_MS, 3 * ttl);
  /** Admitted, unsettled flights → when their reservation was last (re)set. */
  const open = new Map<Flight, number>();

  function tick() {
    const nowMs = opts.now();
    for (const [flight, at] of open) {
      if (nowMs - at < dueAfterMs) continue;
      if (nowMs - flight.startedMs > maxRenewMs) {
        open.delete(flight);
        opts.log.warn('request running too long: its reservation is no longer renewed', {
          requestId: flight.requestId,
          runningMs: nowMs - flight.startedMs,
        });
        continue;
      }
      open.set(flight, nowMs);
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
          (held) => {
            if (held < spend.length && !flight.done) {
              opts.log.warn('reservation lost while the request runs; its settle will be bounded', {
                requestId: flight.requestId,
                held,
              });
            }
          },
          (err: unknown) => {
            // Due again at the next tick, not a third of the TTL later.
            if (open.has(flight)) open.set(flight, at);
            opts.log.warn('reservation renewal failed; retried at the next tick', {
              requestId: flight.requestId,
              err: String(err),
            });
          },
        );
    }
  }

  const timer = setInterval(tick, Math.min(60_000, Math.max(100, Math.floor(ttl / 6))));
  timer.unref();
  return {
    track: (flight) => {
      open.set(flight, opts.now());
    },
    untrack: (flight) => {
      open.delete(flight);
    },
    stop: () => clearInterval(timer),
  };
}
