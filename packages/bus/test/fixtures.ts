import { randomBytes } from 'node:crypto';
import type {
  AdmitRequest,
  AdmitResult,
  Counter,
  RateSnapshot,
  SettleRequest,
} from '../src/types.ts';

export const PERIOD = 'm2026-11';

export const newId = (kind: string) => `${kind}_${randomBytes(6).toString('hex')}`;

/** The rate snapshot of a sub-account with no rate limit: nothing to report. */
export const NO_RATES: RateSnapshot = {
  limitRequests: null,
  remainingRequests: null,
  resetRequestsMs: null,
  limitTokens: null,
  remainingTokens: null,
  resetTokensMs: null,
};

export const counter = (scope: string, capMicros: number | null): Counter => ({
  scope,
  capMicros,
  periodKey: PERIOD,
});

/** An admission with no rate limits, a 30 s reservation and the given overrides. */
export function admitReq(
  base: { workspaceId: string; subAccountId: string; spend: Counter[] },
  over: Partial<AdmitRequest> = {},
): AdmitRequest {
  return {
    requestId: newId('req'),
    nowMs: Date.now(),
    rate: { rpm: null, rpd: null, tpm: null, maxConcurrent: null, estimatedTokens: 0 },
    worstCaseMicros: 1_000,
    minMicros: 100,
    reservationTtlMs: 30_000,
    ...base,
    ...over,
  };
}

export function settleReq(
  req: AdmitRequest,
  actualMicros: number,
  over: Partial<SettleRequest> = {},
): SettleRequest {
  return {
    workspaceId: req.workspaceId,
    subAccountId: req.subAccountId,
    requestId: req.requestId,
    spend: req.spend,
    actualMicros,
    actualTokens: 0,
    nowMs: Date.now(),
    ...over,
  };
}

export function okOf(r: AdmitResult) {
  if (!r.ok) throw new Error(`expected admission, got ${JSON.stringify(r)}`);
  return r;
}
