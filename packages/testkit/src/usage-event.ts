import type { UsageEvent } from '@tollgate/usage';

let seq = 0;

/**
 * A complete, valid usage event for tests: a served, zero-token, zero-cost request started now, with
 * a unique request id — `over` sets what the test is about.
 */
export function usageEvent(
  over: Partial<UsageEvent> & Pick<UsageEvent, 'workspaceId'>,
): UsageEvent {
  const at = new Date().toISOString();
  return {
    v: 1,
    requestId: `req_test_${process.pid}_${Date.now()}_${seq++}`,
    attempt: 0,
    subAccountId: null,
    keyId: null,
    tags: [],
    model: 'openai/gpt-4o-mini',
    servedModel: null,
    provider: 'openai',
    byok: false,
    inputTokens: 0,
    outputTokens: 0,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    providerCostMicros: 0,
    billedCostMicros: 0,
    estimated: false,
    status: 'ok',
    errorClass: null,
    httpStatus: 200,
    latencyMs: 12,
    ttftMs: null,
    retries: 0,
    stream: false,
    startedAt: at,
    finishedAt: at,
    reservationMicros: 0,
    ...over,
  };
}
