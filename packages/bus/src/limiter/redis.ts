import {
  admitScript,
  createKeys,
  peekScript,
  type RedisClient,
  raiseCountScript,
  raiseManyScript,
  raiseScript,
  reinstateScript,
  renewScript,
  restoreScript,
  seedScript,
  settleScript,
} from '@tollgate/redis';
import {
  CountersNotRebuiltError,
  checkAdmit,
  checkCounters,
  checkReinstate,
  checkRenew,
  checkSettle,
  checkUint,
  counterKeyTtlMs,
  DEFAULT_PURGE_LIMIT,
  DEFAULT_SETTLED_TTL_MS,
  RAISE_CHUNK,
  RESTORE_CHUNK,
  rateSnapshot,
  windows,
} from '../limits.ts';
import type {
  AdmitRequest,
  AdmitResult,
  Counter,
  CounterBalanceFromBooks,
  Limiter,
  RaisedCounters,
  RatesQuery,
  ReinstateRequest,
  RenewRequest,
  SettleRequest,
} from '../types.ts';

/** Lifetime of a day window key, as the admit script sets it. */
const DAY_WINDOW_KEY_MS = 2 * 86_400_000;
/** Lifetime of a minute window key (RPM, TPM), as the admit script sets it. */
const MINUTE_WINDOW_KEY_MS = 120_000;

export interface RedisLimiterOptions {
  client: RedisClient;
  prefix: string;
  /** How long a settled request id is remembered (idempotency window). Default 1 h. */
  settledTtlMs?: number;
  /** Most expired reservations purged per counter per admission. Default 256. */
  purgeLimit?: number;
  /** close() quits the client only when the limiter owns it. */
  ownsClient?: boolean;
  /** Fail closed (CountersNotRebuiltError) for capped or rate-limited requests of a workspace whose
   * counters Redis lost, until a control plane rebuilt them from the books (`restore`). Default
   * false. */
  requireRebuilt?: boolean;
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
  // Key names are pure functions of their inputs: memoised (bounded) so a hot path does not
  // re-validate and re-concatenate the same names on every request.
  const memo = new Map<string, string>();
  const remember = (id: string, build: () => string) => {
    let v = memo.get(id);
    if (v === undefined) {
      v = build();
      if (memo.size >= 10_000) memo.clear();
      memo.set(id, v);
    }
    return v;
  };
  const counterMemo = new Map<string, ReturnType<typeof keys.counter>>();
  const counterKeys = (ws: string, cs: Counter[]) =>
    cs.map((c) => {
      const id = `${ws}\u0000${c.periodKey}\u0000${c.scope}`;
      let k = counterMemo.get(id);
      if (k === undefined) {
        k = keys.counter(ws, c.scope, c.periodKey);
        if (counterMemo.size >= 10_000) counterMemo.clear();
        counterMemo.set(id, k);
      }
      return k;
    });

  /** On the request path, a connection that was lost answers at once: queued until the next
   * reconnection attempt (up to 2 s apart) or the command timeout, every request — the unlimited
   * ones it would then serve too — waited that long while Redis was away. The caller fails closed
   * or open as when a command fails. Before the first connection (start-up) commands still queue. */
  const connected = () => {
    const s = client.status;
    if (s === 'reconnecting' || s === 'close' || s === 'end') throw new Error(`redis ${s}`);
  };

  async function admit(req: AdmitRequest): Promise<AdmitResult> {
    const { minMicros } = checkAdmit(req);
    connected();
    const w = windows(req.nowMs);
    const { workspaceId: ws, subAccountId: sa } = req;
    const reply = await admitScript(client, {
      keys: {
        concurrency: remember(`c\u0000${ws}\u0000${sa}`, () => keys.concurrency(ws, sa)),
        rpmWindow: remember(`m\u0000${ws}\u0000${sa}\u0000${w.minuteIndex}`, () =>
          keys.rpmWindow(ws, sa, w.minuteIndex),
        ),
        rpdWindow: remember(`d\u0000${ws}\u0000${sa}\u0000${w.dayIndex}`, () =>
          keys.rpdWindow(ws, sa, w.dayIndex),
        ),
        tpmWindow: remember(`t\u0000${ws}\u0000${sa}\u0000${w.minuteIndex}`, () =>
          keys.tpmWindow(ws, sa, w.minuteIndex),
        ),
        requestTokens: keys.requestTokens(ws, req.requestId),
        counters: counterKeys(ws, req.spend),
        epoch: remember(`e\u0000${ws}`, () => keys.countersEpoch(ws)),
      },
      requireSeed: opts.requireRebuilt === true,
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
    if (reply.kind === 'unseeded') throw new CountersNotRebuiltError(ws);
    if (reply.kind === 'rate') {
      const { limit, retryAfterMs, rate } = reply;
      return { ok: false, kind: 'rate', limit, retryAfterMs, rate };
    }
    const { counterIndex, capMicros, spentMicros, reservedMicros, rate } = reply;
    const scope = req.spend[counterIndex]!.scope;
    return { ok: false, kind: 'spend', scope, capMicros, spentMicros, reservedMicros, rate };
  }

  async function settle(s: SettleRequest) {
    checkSettle(s);
    const { workspaceId: ws, subAccountId: sa } = s;
    const w = windows(s.nowMs);
    const settled = await settleScript(client, {
      keys: {
        settled: keys.settled(ws, s.requestId),
        concurrency: remember(`c\u0000${ws}\u0000${sa}`, () => keys.concurrency(ws, sa)),
        requestTokens: keys.requestTokens(ws, s.requestId),
        tpmWindow: remember(`t\u0000${ws}\u0000${sa}\u0000${w.minuteIndex}`, () =>
          keys.tpmWindow(ws, sa, w.minuteIndex),
        ),
        counters: counterKeys(ws, s.spend),
        epoch: remember(`e\u0000${ws}`, () => keys.countersEpoch(ws)),
      },
      requestId: s.requestId,
      actualMicros: s.actualMicros,
      actualTokens: s.actualTokens,
      minuteIndex: w.minuteIndex,
      settledTtlMs,
      counterKeyTtlMs: s.spend.map((c) => counterKeyTtlMs(c.periodKey)),
      capMicros: s.spend.map((c) => c.capMicros),
      purgeLimit,
      nowMs: s.nowMs,
    });
    return settled === null
      ? { settled: false, chargedMicros: 0 }
      : { settled: true, chargedMicros: settled };
  }

  async function renew(r: RenewRequest) {
    checkRenew(r);
    const { workspaceId: ws, subAccountId: sa } = r;
    return renewScript(client, {
      concurrency: remember(`c\u0000${ws}\u0000${sa}`, () => keys.concurrency(ws, sa)),
      counters: counterKeys(ws, r.spend),
      requestId: r.requestId,
      expiresAtMs: r.nowMs + r.reservationTtlMs,
      concurrencyKeyTtlMs: r.reservationTtlMs + 60_000,
    });
  }

  async function reinstate(r: ReinstateRequest) {
    checkReinstate(r);
    const { workspaceId: ws, subAccountId: sa } = r;
    return reinstateScript(client, {
      keys: {
        settled: keys.settled(ws, r.requestId),
        concurrency: keys.concurrency(ws, sa),
        epoch: keys.countersEpoch(ws),
        counters: counterKeys(ws, r.spend),
      },
      requestId: r.requestId,
      nowMs: r.nowMs,
      expiresAtMs: r.nowMs + r.reservationTtlMs,
      amountMicros: r.reservedMicros,
      slot: r.concurrencySlot,
      concurrencyKeyTtlMs: r.reservationTtlMs + 60_000,
      purgeLimit,
      counters: r.spend.map((c) => ({
        capMicros: c.capMicros,
        keyTtlMs: counterKeyTtlMs(c.periodKey),
      })),
      requireSeed: opts.requireRebuilt === true,
    });
  }

  async function spent(ws: string, counters: Counter[], nowMs = Date.now()) {
    checkCounters(counters);
    const rows = await peekScript(client, counterKeys(ws, counters), nowMs, purgeLimit);
    return rows.map((r, i) => ({ scope: counters[i]!.scope, ...r }));
  }

  async function rates(q: RatesQuery) {
    checkUint('nowMs', q.nowMs);
    connected();
    const w = windows(q.nowMs);
    const { workspaceId: ws, subAccountId: sa } = q;
    // One round trip (the keys share the workspace's hash slot); a limit not set is ignored.
    const [rpmUsed = 0, rpdUsed = 0, tpmUsed = 0] = (
      await client.mget(
        keys.rpmWindow(ws, sa, w.minuteIndex),
        keys.rpdWindow(ws, sa, w.dayIndex),
        keys.tpmWindow(ws, sa, w.minuteIndex),
      )
    ).map((v) => Number(v ?? 0) || 0);
    return rateSnapshot(q, { rpmUsed, rpdUsed, tpmUsed }, 0, 0);
  }

  async function seed(ws: string, counter: Counter, spentMicros: number) {
    checkUint('spentMicros', spentMicros);
    checkCounters([counter]);
    const k = keys.counter(ws, counter.scope, counter.periodKey);
    await seedScript(client, k, spentMicros, counterKeyTtlMs(counter.periodKey));
  }

  async function raise(ws: string, counter: Counter, spentMicros: number) {
    checkUint('spentMicros', spentMicros);
    checkCounters([counter]);
    const k = keys.counter(ws, counter.scope, counter.periodKey);
    return raiseScript(client, k, spentMicros, counterKeyTtlMs(counter.periodKey));
  }

  /** Chunk by chunk, each one script that checks the marker and raises its counters; a chunk that
   * finds the marker missing changes nothing, and the rest is not sent. */
  async function raiseMany(
    ws: string,
    balances: CounterBalanceFromBooks[],
  ): Promise<RaisedCounters> {
    for (const b of balances) checkUint('spentMicros', b.spentMicros);
    checkCounters(balances.map((b) => b.counter));
    const epochKey = keys.countersEpoch(ws);
    const before: (number | null)[] = [];
    let i = 0;
    do {
      const chunk = balances.slice(i, i + RAISE_CHUNK);
      const done = await raiseManyScript(client, {
        epochKey,
        counters: chunk.map((b) => ({
          state: keys.counter(ws, b.counter.scope, b.counter.periodKey).state,
          spentMicros: b.spentMicros,
          keyTtlMs: counterKeyTtlMs(b.counter.periodKey),
        })),
      });
      if (done === null) {
        for (let j = i; j < balances.length; j++) before.push(null);
        return { sealed: false, before };
      }
      for (const d of done) before.push(d);
      i += RAISE_CHUNK;
    } while (i < balances.length);
    return { sealed: true, before };
  }

  async function raiseRequestsToday(ws: string, sa: string, requests: number, nowMs: number) {
    checkUint('requests', requests);
    const key = keys.rpdWindow(ws, sa, windows(nowMs).dayIndex);
    return raiseCountScript(client, key, requests, DAY_WINDOW_KEY_MS);
  }

  async function raiseThisMinute(
    ws: string,
    sa: string,
    used: { requests: number; tokens: number },
    nowMs: number,
  ) {
    checkUint('requests', used.requests);
    checkUint('tokens', used.tokens);
    const { minuteIndex } = windows(nowMs);
    const [requests, tokens] = await Promise.all([
      raiseCountScript(
        client,
        keys.rpmWindow(ws, sa, minuteIndex),
        used.requests,
        MINUTE_WINDOW_KEY_MS,
      ),
      raiseCountScript(
        client,
        keys.tpmWindow(ws, sa, minuteIndex),
        used.tokens,
        MINUTE_WINDOW_KEY_MS,
      ),
    ]);
    return requests || tokens;
  }

  async function epochs(workspaceIds: string[]) {
    if (workspaceIds.length === 0) return [];
    const p = client.pipeline();
    for (const ws of workspaceIds) p.get(keys.countersEpoch(ws));
    const results = (await p.exec()) ?? [];
    return workspaceIds.map((_, i) => {
      const [err, value] = results[i] ?? [new Error('no reply'), null];
      if (err) throw err;
      return (value as string | null) ?? null;
    });
  }

  async function restore(ws: string, balances: CounterBalanceFromBooks[], epoch: string) {
    if (epoch.length === 0) throw new RangeError('epoch must not be empty');
    for (const b of balances) checkUint('spentMicros', b.spentMicros);
    checkCounters(balances.map((b) => b.counter));
    const epochKey = keys.countersEpoch(ws);
    let i = 0;
    do {
      const chunk = balances.slice(i, i + RESTORE_CHUNK);
      i += RESTORE_CHUNK;
      const applied = await restoreScript(client, {
        epochKey,
        epoch,
        final: i >= balances.length,
        counters: chunk.map((b) => ({
          state: keys.counter(ws, b.counter.scope, b.counter.periodKey).state,
          spentMicros: b.spentMicros,
          keyTtlMs: counterKeyTtlMs(b.counter.periodKey),
        })),
      });
      if (!applied) return false;
    } while (i < balances.length);
    return true;
  }

  async function close() {
    if (opts.ownsClient) await client.quit();
  }

  return {
    admit,
    settle,
    renew,
    reinstate,
    spent,
    rates,
    seed,
    raise,
    raiseMany,
    raiseRequestsToday,
    raiseThisMinute,
    epochs,
    restore,
    close,
  };
}
