import { createKeys } from '@tollgate/redis';
import {
  CONCURRENCY_RETRY_MS,
  CountersNotRebuiltError,
  checkAdmit,
  checkCounters,
  checkReinstate,
  checkRenew,
  checkSettle,
  checkUint,
  counterKeyTtlMs,
  DAY_MS,
  DEFAULT_SETTLED_TTL_MS,
  RAISE_CHUNK,
  rateSnapshot,
  type WindowUse,
  windows,
} from '../limits.ts';
import type {
  AdmitRequest,
  AdmitResult,
  Counter,
  CounterBalanceFromBooks,
  Limiter,
  RaisedCounters,
  RateLimitName,
  RatesQuery,
  ReinstateRequest,
  ReinstateResult,
  RenewRequest,
  SettleRequest,
} from '../types.ts';
import { TtlMap } from './ttl-map.ts';

/**
 * The embedded limiter: the same semantics as the admit/settle scripts (see packages/redis/src/lua),
 * over Maps. What must hold: admit() and settle() contain no `await`, so each runs to completion on
 * the one JS thread — the same critical section a Lua script gets on Redis. Keys are built by the
 * same key builders, so ids are validated and identified exactly as in Redis.
 */

interface CounterState {
  /** null until the first settle or seed (seed only fills an absent figure). */
  spent: number | null;
  /** Always the sum of `reservations` amounts. */
  reserved: number;
  reservations: Map<string, { amount: number; expiresAt: number }>;
  /** Created while the workspace had no epoch (after a loss): the rebuild adds the books to it. */
  post?: boolean;
  /** The rebuild already added the books to it. */
  restored?: boolean;
}

const WINDOW_KEY_MS = 120_000;
const DAY_KEY_MS = 2 * DAY_MS;
const newState = (): CounterState => ({ spent: null, reserved: 0, reservations: new Map() });

function purge(c: CounterState, nowMs: number) {
  for (const [id, r] of c.reservations) {
    if (r.expiresAt <= nowMs) {
      c.reservations.delete(id);
      c.reserved -= r.amount;
    }
  }
}

function release(c: CounterState, id: string) {
  const r = c.reservations.get(id);
  if (!r) return;
  c.reservations.delete(id);
  c.reserved -= r.amount;
}

export interface MemoryLimiterOptions {
  /** Only shapes the internal keys; one process needs no isolation. */
  prefix?: string;
  /** How long a settled request id is remembered (idempotency window). Default 1 h. */
  settledTtlMs?: number;
  /** As RedisLimiterOptions.requireRebuilt: capped or rate-limited requests fail closed until
   * `restore` ran. */
  requireRebuilt?: boolean;
}

type Keys = ReturnType<MemoryLimiter['keysOf']>;

/** Public methods are arrow properties: callers may pass `limiter.admit` around unbound. */
class MemoryLimiter implements Limiter {
  readonly #keys;
  readonly #settledTtlMs: number;
  readonly #counters = new TtlMap<CounterState>();
  readonly #counts = new TtlMap<{ n: number }>();
  readonly #slots = new TtlMap<Map<string, number>>();
  readonly #tokenRecords = new TtlMap<{ minuteIndex: number; estimate: number }>();
  readonly #settledIds = new TtlMap<true>();
  /** Counters-epoch marker per workspace (see RESTORE_LUA): lost with the counters on restart. */
  readonly #epochs = new Map<string, string>();
  readonly #requireRebuilt: boolean;

  constructor(opts: MemoryLimiterOptions) {
    this.#keys = createKeys(opts.prefix ?? 'embedded');
    this.#settledTtlMs = opts.settledTtlMs ?? DEFAULT_SETTLED_TTL_MS;
    this.#requireRebuilt = opts.requireRebuilt === true;
  }

  /** A counter's state, created (flagged when the workspace is not rebuilt yet) if absent. */
  #counterState(ws: string, key: string): CounterState {
    return this.#counters.getOrCreate(key, () =>
      this.#epochs.has(ws) ? newState() : { ...newState(), post: true },
    );
  }

  admit = async (req: AdmitRequest): Promise<AdmitResult> => {
    // No await below: this whole body is one critical section.
    const { minMicros } = checkAdmit(req);
    const { rpm, rpd, tpm, maxConcurrent } = req.rate;
    const limited =
      rpm !== null ||
      rpd !== null ||
      tpm !== null ||
      maxConcurrent !== null ||
      req.spend.some((c) => c.capMicros !== null);
    if (this.#requireRebuilt && !this.#epochs.has(req.workspaceId) && limited) {
      throw new CountersNotRebuiltError(req.workspaceId);
    }
    const k = this.keysOf(req);
    const { rate } = req;
    const use = this.#windowUse(k, rate);
    // Replace semantics for a retried request id, then drop crashed requests' reservations.
    this.#slots.get(k.conc)?.delete(req.requestId);
    for (const key of k.counters) {
      const st = this.#counters.get(key);
      if (st) {
        purge(st, req.nowMs);
        release(st, req.requestId);
      }
    }
    const refused = this.#rateRefusal(req, use, k);
    if (refused) return refused;
    const x = this.#fit(req, minMicros, k, use);
    if (typeof x !== 'number') return x;
    this.#reserve(req, k, x);
    const snapshot = rateSnapshot(req, use, 1, rate.estimatedTokens);
    return { ok: true, reservedMicros: x, clamped: x < req.worstCaseMicros, rate: snapshot };
  };

  settle = async (s: SettleRequest) => {
    checkSettle(s);
    const done = this.#keys.settled(s.workspaceId, s.requestId);
    if (this.#settledIds.get(done)) return { settled: false, chargedMicros: 0 };
    this.#settledIds.set(done, true, this.#settledTtlMs);
    this.#slots.get(this.#keys.concurrency(s.workspaceId, s.subAccountId))?.delete(s.requestId);
    this.#settleTokens(s);
    const states = s.spend.map((c) => {
      const key = this.#keys.counter(s.workspaceId, c.scope, c.periodKey).state;
      const st = this.#counterState(s.workspaceId, key);
      const held = st.reservations.get(s.requestId)?.amount ?? 0;
      release(st, s.requestId);
      return { c, key, st, held };
    });
    // As SETTLE_LUA: where a capped counter held less than the charge (the reservation is gone, or
    // came back smaller after a loss), charge at most what is left under its cap.
    let charge = s.actualMicros;
    for (const { c, st, held } of states) {
      if (held >= charge || c.capMicros === null) continue;
      purge(st, s.nowMs);
      const room = c.capMicros - (st.spent ?? 0) - Math.max(0, st.reserved);
      if (room < charge) charge = Math.max(0, room);
    }
    for (const { c, key, st } of states) {
      st.spent = (st.spent ?? 0) + charge;
      this.#counters.extend(key, counterKeyTtlMs(c.periodKey));
    }
    return { settled: true, chargedMicros: charge };
  };

  renew = async (r: RenewRequest) => {
    checkRenew(r);
    const expiresAt = r.nowMs + r.reservationTtlMs;
    let held = 0;
    for (const c of r.spend) {
      const st = this.#counters.get(this.#keys.counter(r.workspaceId, c.scope, c.periodKey).state);
      const mine = st?.reservations.get(r.requestId);
      if (mine === undefined) continue;
      mine.expiresAt = expiresAt;
      held++;
    }
    const conc = this.#keys.concurrency(r.workspaceId, r.subAccountId);
    const slots = this.#slots.get(conc);
    if (slots?.has(r.requestId)) {
      slots.set(r.requestId, expiresAt);
      this.#slots.extend(conc, r.reservationTtlMs + 60_000);
    }
    return held;
  };

  /** As REINSTATE_LUA. In one process the counters are lost only together with the requests that
   * held them (a restart), so here it serves the counters capped while a request runs. */
  reinstate = async (r: ReinstateRequest): Promise<ReinstateResult> => {
    checkReinstate(r);
    const { workspaceId: ws, requestId: id } = r;
    if (this.#settledIds.get(this.#keys.settled(ws, id)))
      return { sealed: true, reservedMicros: -1 };
    const expiresAt = r.nowMs + r.reservationTtlMs;
    if (r.concurrencySlot) {
      const conc = this.#keys.concurrency(ws, r.subAccountId);
      const slots = this.#slots.getOrCreate(conc, () => new Map());
      if (!slots.has(id)) {
        slots.set(id, expiresAt);
        this.#slots.extend(conc, r.reservationTtlMs + 60_000);
      }
    }
    if (this.#requireRebuilt && !this.#epochs.has(ws)) return { sealed: false, reservedMicros: 0 };
    let x = r.reservedMicros;
    const missing: { c: Counter; key: string; st: CounterState }[] = [];
    for (const c of r.spend) {
      const key = this.#keys.counter(ws, c.scope, c.periodKey).state;
      const st = this.#counterState(ws, key);
      if (st.reservations.has(id)) continue;
      if (c.capMicros !== null) {
        purge(st, r.nowMs);
        x = Math.min(x, c.capMicros - (st.spent ?? 0) - Math.max(0, st.reserved));
      }
      missing.push({ c, key, st });
    }
    if (missing.length === 0 || x <= 0) return { sealed: true, reservedMicros: 0 };
    for (const { c, key, st } of missing) {
      st.reserved += x;
      st.reservations.set(id, { amount: x, expiresAt });
      this.#counters.extend(key, counterKeyTtlMs(c.periodKey));
    }
    return { sealed: true, reservedMicros: x };
  };

  rates = async (q: RatesQuery) => {
    checkUint('nowMs', q.nowMs);
    const w = windows(q.nowMs);
    const { workspaceId: ws, subAccountId: sa } = q;
    const k = {
      rpm: this.#keys.rpmWindow(ws, sa, w.minuteIndex),
      rpd: this.#keys.rpdWindow(ws, sa, w.dayIndex),
      tpm: this.#keys.tpmWindow(ws, sa, w.minuteIndex),
    };
    return rateSnapshot(q, this.#windowUse(k, q.rate), 0, 0);
  };

  spent = async (ws: string, cs: Counter[], nowMs = Date.now()) => {
    checkCounters(cs);
    return cs.map(({ scope, periodKey }) => {
      const st = this.#counters.get(this.#keys.counter(ws, scope, periodKey).state);
      let reserved = st?.reserved ?? 0;
      for (const r of st?.reservations.values() ?? [])
        if (r.expiresAt <= nowMs) reserved -= r.amount;
      return { scope, spentMicros: st?.spent ?? 0, reservedMicros: Math.max(0, reserved) };
    });
  };

  seed = async (ws: string, counter: Counter, spentMicros: number) => {
    checkUint('spentMicros', spentMicros);
    checkCounters([counter]);
    const key = this.#keys.counter(ws, counter.scope, counter.periodKey).state;
    const st = this.#counters.getOrCreate(key, newState);
    if (st.spent === null) st.spent = spentMicros;
    this.#counters.extend(key, counterKeyTtlMs(counter.periodKey));
  };

  raise = async (ws: string, counter: Counter, spentMicros: number) => {
    checkUint('spentMicros', spentMicros);
    checkCounters([counter]);
    const key = this.#keys.counter(ws, counter.scope, counter.periodKey).state;
    const st = this.#counters.getOrCreate(key, newState);
    const raised = st.spent === null || st.spent < spentMicros;
    if (raised) st.spent = spentMicros;
    this.#counters.extend(key, counterKeyTtlMs(counter.periodKey));
    return raised;
  };

  /** As the Redis limiter: RAISE_CHUNK counters per critical section (no await inside one), each
   * checking the epoch, with a turn of the event loop between two — so a top-up of 100 000 counters
   * does not hold up the requests of an embedded data plane for its whole length. */
  raiseMany = async (ws: string, balances: CounterBalanceFromBooks[]): Promise<RaisedCounters> => {
    for (const b of balances) checkUint('spentMicros', b.spentMicros);
    checkCounters(balances.map((b) => b.counter));
    const before: (number | null)[] = [];
    let i = 0;
    do {
      if (i > 0) await new Promise<void>((r) => setImmediate(r));
      if (!this.#epochs.has(ws)) {
        for (let j = i; j < balances.length; j++) before.push(null);
        return { sealed: false, before };
      }
      for (const { counter, spentMicros } of balances.slice(i, i + RAISE_CHUNK)) {
        const key = this.#keys.counter(ws, counter.scope, counter.periodKey).state;
        const st = this.#counters.getOrCreate(key, newState);
        const held = st.spent;
        const raised = held === null || held < spentMicros;
        if (raised) st.spent = spentMicros;
        this.#counters.extend(key, counterKeyTtlMs(counter.periodKey));
        before.push(raised ? (held ?? 0) : null);
      }
      i += RAISE_CHUNK;
    } while (i < balances.length);
    return { sealed: true, before };
  };

  raiseRequestsToday = async (ws: string, sa: string, requests: number, nowMs: number) => {
    checkUint('requests', requests);
    const key = this.#keys.rpdWindow(ws, sa, windows(nowMs).dayIndex);
    const c = this.#counts.getOrCreate(key, () => ({ n: 0 }));
    this.#counts.extend(key, DAY_KEY_MS);
    if (c.n >= requests) return false;
    c.n = requests;
    return true;
  };

  raiseThisMinute = async (
    ws: string,
    sa: string,
    used: { requests: number; tokens: number },
    nowMs: number,
  ) => {
    checkUint('requests', used.requests);
    checkUint('tokens', used.tokens);
    const { minuteIndex } = windows(nowMs);
    let raised = false;
    for (const [key, n] of [
      [this.#keys.rpmWindow(ws, sa, minuteIndex), used.requests],
      [this.#keys.tpmWindow(ws, sa, minuteIndex), used.tokens],
    ] as const) {
      const c = this.#counts.getOrCreate(key, () => ({ n: 0 }));
      this.#counts.extend(key, WINDOW_KEY_MS);
      if (c.n < n) {
        c.n = n;
        raised = true;
      }
    }
    return raised;
  };

  epochs = async (workspaceIds: string[]) => workspaceIds.map((ws) => this.#epochs.get(ws) ?? null);

  restore = async (ws: string, balances: CounterBalanceFromBooks[], epoch: string) => {
    // No await: one critical section, like the script.
    if (epoch.length === 0) throw new RangeError('epoch must not be empty');
    for (const b of balances) checkUint('spentMicros', b.spentMicros);
    checkCounters(balances.map((b) => b.counter));
    if (this.#epochs.has(ws)) return false;
    for (const { counter, spentMicros } of balances) {
      const key = this.#keys.counter(ws, counter.scope, counter.periodKey).state;
      const st = this.#counters.get(key);
      if (st === undefined) {
        this.#counters.set(
          key,
          { ...newState(), spent: spentMicros, restored: true },
          Number.POSITIVE_INFINITY,
        );
      } else if (st.post && !st.restored) {
        st.spent = (st.spent ?? 0) + spentMicros;
        st.restored = true;
      } else continue;
      this.#counters.extend(key, counterKeyTtlMs(counter.periodKey));
    }
    this.#epochs.set(ws, epoch);
    return true;
  };

  close = async () => {};

  keysOf(req: AdmitRequest) {
    const { workspaceId: ws, subAccountId: sa } = req;
    const w = windows(req.nowMs);
    return {
      conc: this.#keys.concurrency(ws, sa),
      rpm: this.#keys.rpmWindow(ws, sa, w.minuteIndex),
      rpd: this.#keys.rpdWindow(ws, sa, w.dayIndex),
      tpm: this.#keys.tpmWindow(ws, sa, w.minuteIndex),
      tokens: this.#keys.requestTokens(ws, req.requestId),
      counters: req.spend.map((c) => this.#keys.counter(ws, c.scope, c.periodKey).state),
    };
  }

  /** What the rate windows hold now (0 for a limit not set: its window is not read). */
  #windowUse(k: { rpm: string; rpd: string; tpm: string }, rate: RatesQuery['rate']): WindowUse {
    const count = (key: string, limit: number | null) =>
      limit === null ? 0 : (this.#counts.get(key)?.n ?? 0);
    return {
      rpmUsed: count(k.rpm, rate.rpm),
      rpdUsed: count(k.rpd, rate.rpd),
      tpmUsed: count(k.tpm, rate.tpm),
    };
  }

  #bump(key: string, by: number, ttlMs: number) {
    this.#counts.getOrCreate(key, () => ({ n: 0 })).n += by;
    this.#counts.extend(key, ttlMs);
  }

  #rateRefusal(req: AdmitRequest, use: WindowUse, k: Keys): AdmitResult | null {
    const { rpm, rpd, tpm, maxConcurrent, estimatedTokens } = req.rate;
    const w = windows(req.nowMs);
    const refuse = (limit: RateLimitName, retryAfterMs: number): AdmitResult => {
      const rate = rateSnapshot(req, use, 0, 0);
      return { ok: false, kind: 'rate', limit, retryAfterMs: Math.max(1, retryAfterMs), rate };
    };
    if (rpm !== null && use.rpmUsed + 1 > rpm) return refuse('rpm', w.minuteEndMs - req.nowMs);
    if (rpd !== null && use.rpdUsed + 1 > rpd) return refuse('rpd', w.dayEndMs - req.nowMs);
    if (tpm !== null && use.tpmUsed + estimatedTokens > tpm) {
      return refuse('tpm', w.minuteEndMs - req.nowMs);
    }
    if (maxConcurrent !== null) {
      const s = this.#slots.get(k.conc);
      if (s) for (const [id, exp] of s) if (exp <= req.nowMs) s.delete(id);
      if ((s?.size ?? 0) >= maxConcurrent) return refuse('concurrency', CONCURRENCY_RETRY_MS);
    }
    return null;
  }

  /** x = min(worst case, smallest remaining); or the refusal naming the first counter that failed. */
  #fit(req: AdmitRequest, minMicros: number, k: Keys, use: WindowUse): number | AdmitResult {
    let x = req.worstCaseMicros;
    for (const [i, c] of req.spend.entries()) {
      if (c.capMicros === null) continue;
      const st = this.#counters.get(k.counters[i]!);
      const spentMicros = st?.spent ?? 0;
      const reservedMicros = Math.max(0, st?.reserved ?? 0);
      const remaining = c.capMicros - spentMicros - reservedMicros;
      if (remaining < minMicros) {
        const { scope, capMicros } = c;
        const rate = rateSnapshot(req, use, 0, 0);
        return { ok: false, kind: 'spend', scope, capMicros, spentMicros, reservedMicros, rate };
      }
      x = Math.min(x, remaining);
    }
    return x;
  }

  #reserve(req: AdmitRequest, k: Keys, x: number) {
    const { requestId: id, nowMs, reservationTtlMs: ttl, rate } = req;
    const expiresAt = nowMs + ttl;
    for (const [i, c] of req.spend.entries()) {
      const key = k.counters[i]!;
      const st = this.#counterState(req.workspaceId, key);
      st.reserved += x;
      st.reservations.set(id, { amount: x, expiresAt });
      this.#counters.extend(key, counterKeyTtlMs(c.periodKey));
    }
    if (rate.rpm !== null) this.#bump(k.rpm, 1, WINDOW_KEY_MS);
    if (rate.rpd !== null) this.#bump(k.rpd, 1, DAY_KEY_MS);
    if (rate.tpm !== null) {
      this.#bump(k.tpm, rate.estimatedTokens, WINDOW_KEY_MS);
      const record = { minuteIndex: windows(nowMs).minuteIndex, estimate: rate.estimatedTokens };
      this.#tokenRecords.set(k.tokens, record, Math.max(ttl, 60_000) + 60_000);
    }
    if (rate.maxConcurrent !== null) {
      this.#slots.getOrCreate(k.conc, () => new Map()).set(id, expiresAt);
      this.#slots.extend(k.conc, ttl + 60_000);
    }
  }

  /** Same-minute settle: the estimate is replaced by the actual tokens; later: actual tokens are
   * charged to the current minute (the estimate stays in its own, closed window). */
  #settleTokens(s: SettleRequest) {
    const recordKey = this.#keys.requestTokens(s.workspaceId, s.requestId);
    const rec = this.#tokenRecords.get(recordKey);
    if (!rec) return;
    const { minuteIndex } = windows(s.nowMs);
    const windowKey = this.#keys.tpmWindow(s.workspaceId, s.subAccountId, minuteIndex);
    const delta = rec.minuteIndex === minuteIndex ? s.actualTokens - rec.estimate : s.actualTokens;
    if (delta > 0 || (delta < 0 && this.#counts.get(windowKey))) {
      this.#bump(windowKey, delta, WINDOW_KEY_MS);
    }
    this.#tokenRecords.delete(recordKey);
  }
}

export function createMemoryLimiter(opts: MemoryLimiterOptions = {}): Limiter {
  return new MemoryLimiter(opts);
}
