import {
  admitScript,
  createKeys,
  peekScript,
  type RedisClient,
  seedScript,
  settleScript,
} from '@tollgate/redis';
import {
  checkAdmit,
  checkCounters,
  checkSettle,
  checkUint,
  counterKeyTtlMs,
  DEFAULT_PURGE_LIMIT,
  DEFAULT_SETTLED_TTL_MS,
  windows,
} from '../limits.ts';
import type { AdmitRequest, AdmitResult, Counter, Limiter, SettleRequest } from '../types.ts';

export interface RedisLimiterOptions {
  client: RedisClient;
  prefix: string;
  /** How long a settled request id is remembered (idempotency window). Default 1 h. */
  settledTtlMs?: number;
  /** Most expired reservations purged per counter per admission. Default 256. */
  purgeLimit?: number;
  /** close() quits the client only when the limiter owns it. */
  ownsClient?: boolean;
}

/**
 * The scale-out limiter: every admission is one Lua script over keys of one workspace hash slot, so
 * the cap holds across any number of replicas (Redis runs scripts one at a time).
 */
export function createRedisLimiter(opts: RedisLimiterOptions): Limiter {
  const { client } = opts;
  const keys = createKeys(opts.prefix);
  const settledTtlMs = opts.settledTtlMs ?? DEFAULT_SETTLED_TTL_MS;
  const purgeLimit = opts.purgeLimit ?? DEFAULT_PURGE_LIMIT;
  const counterKeys = (ws: string, cs: Counter[]) =>
    cs.map((c) => keys.counter(ws, c.scope, c.periodKey));

  async function admit(req: AdmitRequest): Promise<AdmitResult> {
    const { minMicros } = checkAdmit(req);
    const w = windows(req.nowMs);
    const { workspaceId: ws, subAccountId: sa } = req;
    const reply = await admitScript(client, {
      keys: {
        concurrency: keys.concurrency(ws, sa),
        rpmWindow: keys.rpmWindow(ws, sa, w.minuteIndex),
        rpdWindow: keys.rpdWindow(ws, sa, w.dayIndex),
        tpmWindow: keys.tpmWindow(ws, sa, w.minuteIndex),
        requestTokens: keys.requestTokens(ws, req.requestId),
        counters: counterKeys(ws, req.spend),
      },
      requestId: req.requestId,
      nowMs: req.nowMs,
      reservationTtlMs: req.reservationTtlMs,
      ...req.rate,
      worstCaseMicros: req.worstCaseMicros,
      minMicros,
      minuteIndex: w.minuteIndex,
      minuteEndMs: w.minuteEndMs,
      dayEndMs: w.dayEndMs,
      counters: req.spend.map((c) => ({
        capMicros: c.capMicros,
        keyTtlMs: counterKeyTtlMs(c.periodKey),
      })),
      purgeLimit,
    });
    if (reply.kind === 'ok') {
      return {
        ok: true,
        reservedMicros: reply.reservedMicros,
        clamped: reply.clamped,
        rate: reply.rate,
      };
    }
    if (reply.kind === 'rate') {
      const { limit, retryAfterMs, rate } = reply;
      return { ok: false, kind: 'rate', limit, retryAfterMs, rate };
    }
    const { counterIndex, capMicros, spentMicros, reservedMicros } = reply;
    const scope = req.spend[counterIndex]!.scope;
    return { ok: false, kind: 'spend', scope, capMicros, spentMicros, reservedMicros };
  }

  async function settle(s: SettleRequest) {
    checkSettle(s);
    const { workspaceId: ws, subAccountId: sa } = s;
    const w = windows(s.nowMs);
    const settled = await settleScript(client, {
      keys: {
        settled: keys.settled(ws, s.requestId),
        concurrency: keys.concurrency(ws, sa),
        requestTokens: keys.requestTokens(ws, s.requestId),
        tpmWindow: keys.tpmWindow(ws, sa, w.minuteIndex),
        counters: counterKeys(ws, s.spend),
      },
      requestId: s.requestId,
      actualMicros: s.actualMicros,
      actualTokens: s.actualTokens,
      minuteIndex: w.minuteIndex,
      settledTtlMs,
      counterKeyTtlMs: s.spend.map((c) => counterKeyTtlMs(c.periodKey)),
    });
    return { settled };
  }

  async function spent(ws: string, counters: Counter[], nowMs = Date.now()) {
    checkCounters(counters);
    const rows = await peekScript(client, counterKeys(ws, counters), nowMs, purgeLimit);
    return rows.map((r, i) => ({ scope: counters[i]!.scope, ...r }));
  }

  async function seed(ws: string, counter: Counter, spentMicros: number) {
    checkUint('spentMicros', spentMicros);
    checkCounters([counter]);
    const k = keys.counter(ws, counter.scope, counter.periodKey);
    await seedScript(client, k, spentMicros, counterKeyTtlMs(counter.periodKey));
  }

  async function close() {
    if (opts.ownsClient) await client.quit();
  }

  return { admit, settle, spent, seed, close };
}
