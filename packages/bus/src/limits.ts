import type {
  AdmitRequest,
  Counter,
  RateSnapshot,
  ReinstateRequest,
  RenewRequest,
  SettleRequest,
} from './types.ts';

/**
 * What both limiter implementations share, so they cannot drift: input validation, window arithmetic
 * and key lifetimes. Windows are fixed: minute = floor(ms / 60 000), day = UTC day.
 */

export const MINUTE_MS = 60_000;
export const DAY_MS = 86_400_000;
/** A rate-limited-by-concurrency caller is told to retry after this (a slot frees when any request
 * of the sub-account ends, which cannot be predicted). */
export const CONCURRENCY_RETRY_MS = 1_000;
export const DEFAULT_SETTLED_TTL_MS = 3_600_000;
export const DEFAULT_PURGE_LIMIT = 256;

export function windows(nowMs: number) {
  const minuteIndex = Math.floor(nowMs / MINUTE_MS);
  const dayIndex = Math.floor(nowMs / DAY_MS);
  return {
    minuteIndex,
    minuteEndMs: (minuteIndex + 1) * MINUTE_MS,
    dayIndex,
    dayEndMs: (dayIndex + 1) * DAY_MS,
  };
}

const DAY = DAY_MS;
/** How long a counter outlives its last write: past the end of its period plus a margin, so the
 * books of a closed period stay readable for a while and then cost no memory. */
export function counterKeyTtlMs(periodKey: string): number {
  switch (periodKey[0]) {
    case 'm':
      return 40 * DAY;
    case 'w':
      return 10 * DAY;
    case 'd':
      return 3 * DAY;
    default:
      return 400 * DAY;
  }
}

export function checkUint(name: string, n: number) {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`${name} must be a safe integer >= 0, got ${n}`);
  }
}

function limit(name: string, n: number | null) {
  if (n !== null && (!Number.isSafeInteger(n) || n < 0)) {
    throw new RangeError(`${name} must be null or an integer >= 0, got ${n}`);
  }
}

/** Rejects duplicate scopes: reserving twice on one counter would corrupt its reservation record. */
export function checkCounters(counters: Counter[]) {
  const seen = new Set<string>();
  for (const c of counters) {
    if (seen.has(c.scope)) throw new RangeError(`duplicate spend scope ${c.scope}`);
    seen.add(c.scope);
    if (c.capMicros !== null) checkUint(`capMicros of ${c.scope}`, c.capMicros);
  }
}

/** Validates and answers the effective minimum: never above the worst case (a request whose worst
 * case is below the "minimum useful" cost still fits when the worst case fits). */
export function checkAdmit(req: AdmitRequest): { minMicros: number } {
  checkUint('worstCaseMicros', req.worstCaseMicros);
  checkUint('minMicros', req.minMicros);
  checkUint('nowMs', req.nowMs);
  if (!Number.isSafeInteger(req.reservationTtlMs) || req.reservationTtlMs <= 0) {
    throw new RangeError('reservationTtlMs must be an integer > 0');
  }
  const r = req.rate;
  limit('rpm', r.rpm);
  limit('rpd', r.rpd);
  limit('tpm', r.tpm);
  limit('maxConcurrent', r.maxConcurrent);
  limit('estimatedTokens', r.estimatedTokens);
  checkCounters(req.spend);
  return { minMicros: Math.min(req.minMicros, req.worstCaseMicros) };
}

export function checkSettle(s: SettleRequest) {
  checkUint('actualMicros', s.actualMicros);
  checkUint('nowMs', s.nowMs);
  limit('actualTokens', s.actualTokens);
  checkCounters(s.spend);
}

export function checkRenew(r: RenewRequest) {
  checkUint('nowMs', r.nowMs);
  checkUint('reservationTtlMs', r.reservationTtlMs);
  checkCounters(r.spend);
}

export function checkReinstate(r: ReinstateRequest) {
  checkRenew(r);
  checkUint('reservedMicros', r.reservedMicros);
}

export interface WindowUse {
  rpmUsed: number;
  rpdUsed: number;
  tpmUsed: number;
}

/** The rate headers' figures (mirrors the admit script's snapshot()): the requests trio reports
 * whichever of rpm/rpd has fewer requests left; `add*` is what this admission itself consumed. */
export function rateSnapshot(
  req: { nowMs: number; rate: Pick<AdmitRequest['rate'], 'rpm' | 'rpd' | 'tpm'> },
  use: WindowUse,
  addRequests: number,
  addTokens: number,
): RateSnapshot {
  const { rpm, rpd, tpm } = req.rate;
  const w = windows(req.nowMs);
  let requests: [number, number, number] | null = null;
  if (rpm !== null) {
    requests = [rpm, Math.max(0, rpm - use.rpmUsed - addRequests), w.minuteEndMs - req.nowMs];
  }
  if (rpd !== null) {
    const rem = Math.max(0, rpd - use.rpdUsed - addRequests);
    if (requests === null || rem < requests[1]) requests = [rpd, rem, w.dayEndMs - req.nowMs];
  }
  const tokensLeft = tpm === null ? null : Math.max(0, tpm - use.tpmUsed - addTokens);
  return {
    limitRequests: requests?.[0] ?? null,
    remainingRequests: requests?.[1] ?? null,
    resetRequestsMs: requests?.[2] ?? null,
    limitTokens: tpm,
    remainingTokens: tokensLeft,
    resetTokensMs: tpm === null ? null : w.minuteEndMs - req.nowMs,
  };
}

/** admit() of a capped or rate-limited request while the workspace's counters are not rebuilt from the books (the
 * limiter was created with `requireRebuilt`): the caller fails closed, as when the store is down. */
export class CountersNotRebuiltError extends Error {
  constructor(readonly workspaceId: string) {
    super(`spend counters of workspace ${workspaceId} are not rebuilt from the books yet`);
    this.name = 'CountersNotRebuiltError';
  }
}

/** Counters per restore call: bounds one script's run time on Redis. */
export const RESTORE_CHUNK = 500;

/** Counters per raiseMany script (the top-up): bounds one script's run time on Redis (about 4
 * commands a counter), and sends 100 000 counters in 200 calls instead of 100 000. */
export const RAISE_CHUNK = 500;
