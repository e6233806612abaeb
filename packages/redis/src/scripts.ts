import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { CounterKeys } from './keys.ts';
import { ADMIT_LUA } from './lua/admit.ts';
import {
  PEEK_LUA,
  RAISE_COUNT_LUA,
  RAISE_LUA,
  RAISE_MANY_LUA,
  RESTORE_LUA,
  SEED_LUA,
} from './lua/peek.ts';
import { REINSTATE_LUA } from './lua/reinstate.ts';
import { RENEW_LUA } from './lua/renew.ts';
import { SETTLE_LUA } from './lua/settle.ts';
import { holdWrites } from './write-batching.ts';

export type RedisClient = Redis | Cluster;

/**
 * Scripts run as EVALSHA of their SHA-1, falling back to EVAL (which loads the script) on NOSCRIPT —
 * so a Redis restart or failover needs no special handling here. Plain EVALSHA/EVAL rather than
 * ioredis' defineCommand: a command defined on a client after a pipeline was opened on it does not
 * exist on that pipeline. Scripts sent in one event-loop turn leave in one write (holdWrites).
 */
const SCRIPTS = {
  tollgateAdmit: ADMIT_LUA,
  tollgateSettle: SETTLE_LUA,
  tollgateRenew: RENEW_LUA,
  tollgateReinstate: REINSTATE_LUA,
  tollgatePeek: PEEK_LUA,
  tollgateSeed: SEED_LUA,
  tollgateRaise: RAISE_LUA,
  tollgateRaiseMany: RAISE_MANY_LUA,
  tollgateRaiseCount: RAISE_COUNT_LUA,
  tollgateRestore: RESTORE_LUA,
} as const;
type ScriptName = keyof typeof SCRIPTS;
const SHAS = Object.fromEntries(
  Object.entries(SCRIPTS).map(([n, lua]) => [n, createHash('sha1').update(lua).digest('hex')]),
) as Record<ScriptName, string>;

async function run(client: RedisClient, name: ScriptName, keys: string[], args: string[]) {
  holdWrites(client);
  try {
    return await client.evalsha(SHAS[name], keys.length, ...keys, ...args);
  } catch (err) {
    if (!String((err as Error)?.message).startsWith('NOSCRIPT')) throw err;
    return client.eval(SCRIPTS[name], keys.length, ...keys, ...args);
  }
}

/** Integers only: `String()` of a safe integer never uses exponent form. null → -1 ("no limit"). */
const arg = (n: number | null): string => String(n ?? -1);
const orNull = (n: number | undefined): number | null => (n === undefined || n < 0 ? null : n);

export interface ScriptRateSnapshot {
  limitRequests: number | null;
  remainingRequests: number | null;
  resetRequestsMs: number | null;
  limitTokens: number | null;
  remainingTokens: number | null;
  resetTokensMs: number | null;
}

export interface AdmitScriptInput {
  keys: {
    concurrency: string;
    rpmWindow: string;
    rpdWindow: string;
    tpmWindow: string;
    requestTokens: string;
    counters: CounterKeys[];
    /** The workspace's counters-epoch marker (TollgateKeys.countersEpoch). */
    epoch?: string;
  };
  /** Refuse (reply `unseeded`) a request with a capped counter or a rate limit while the epoch
   * marker is absent. */
  requireSeed?: boolean;
  requestId: string;
  nowMs: number;
  reservationTtlMs: number;
  rpm: number | null;
  rpd: number | null;
  tpm: number | null;
  maxConcurrent: number | null;
  estimatedTokens: number;
  worstCaseMicros: number;
  minMicros: number;
  minuteIndex: number;
  minuteEndMs: number;
  dayEndMs: number;
  /** Same order as keys.counters. keyTtlMs: how long the counter's keys live after their last write. */
  counters: { capMicros: number | null; keyTtlMs: number }[];
  /** Most expired reservations dropped per counter per call (bounds the script's run time). */
  purgeLimit: number;
}

export type AdmitScriptReply =
  | { kind: 'ok'; reservedMicros: number; clamped: boolean; rate: ScriptRateSnapshot }
  | {
      kind: 'rate';
      limit: 'rpm' | 'rpd' | 'tpm' | 'concurrency';
      retryAfterMs: number;
      rate: ScriptRateSnapshot;
    }
  | {
      kind: 'spend';
      /** 0-based index into the input's counters. */
      counterIndex: number;
      capMicros: number;
      spentMicros: number;
      reservedMicros: number;
      /** The rate limits as they stand (this request not counted). */
      rate: ScriptRateSnapshot;
    }
  /** Capped or rate-limited request while the workspace's counters are not rebuilt (requireSeed):
   * nothing changed. */
  | { kind: 'unseeded' };

const RATE_LIMITS = ['rpm', 'rpd', 'tpm', 'concurrency'] as const;

function snapshot(r: number[], from: number): ScriptRateSnapshot {
  return {
    limitRequests: orNull(r[from]),
    remainingRequests: orNull(r[from + 1]),
    resetRequestsMs: orNull(r[from + 2]),
    limitTokens: orNull(r[from + 3]),
    remainingTokens: orNull(r[from + 4]),
    resetTokensMs: orNull(r[from + 5]),
  };
}

export async function admitScript(
  client: RedisClient,
  input: AdmitScriptInput,
): Promise<AdmitScriptReply> {
  const k = input.keys;
  if (k.counters.length !== input.counters.length) throw new RangeError('counters/keys mismatch');
  const keys = [k.concurrency, k.rpmWindow, k.rpdWindow, k.tpmWindow, k.requestTokens];
  for (const c of k.counters) keys.push(c.state, c.expiry, c.amount);
  if (k.epoch !== undefined) keys.push(k.epoch);
  const args = [
    input.requestId,
    ...[input.nowMs, input.reservationTtlMs, input.rpm, input.rpd, input.tpm].map(arg),
    ...[input.maxConcurrent, input.estimatedTokens, input.worstCaseMicros, input.minMicros].map(
      arg,
    ),
    ...[input.minuteIndex, input.minuteEndMs, input.dayEndMs, input.purgeLimit].map(arg),
    arg(input.counters.length),
  ];
  for (const c of input.counters) args.push(arg(c.capMicros), arg(c.keyTtlMs));
  args.push(input.requireSeed ? '1' : '0');
  const r = (await run(client, 'tollgateAdmit', keys, args)) as number[];
  if (r[0] === 1)
    return { kind: 'ok', reservedMicros: r[1]!, clamped: r[2] === 1, rate: snapshot(r, 3) };
  if (r[0] === 2) {
    const limit = RATE_LIMITS[r[1]! - 1];
    if (!limit) throw new Error(`admit script: unknown rate limit code ${r[1]}`);
    return { kind: 'rate', limit, retryAfterMs: r[2]!, rate: snapshot(r, 3) };
  }
  if (r[0] === 3) {
    const [, index, cap, spent, reserved] = r as [number, number, number, number, number];
    return {
      kind: 'spend',
      counterIndex: index - 1,
      capMicros: cap,
      spentMicros: spent,
      reservedMicros: reserved,
      rate: snapshot(r, 5),
    };
  }
  if (r[0] === 4) return { kind: 'unseeded' };
  throw new Error(`admit script: unexpected reply ${JSON.stringify(r)}`);
}

export interface SettleScriptInput {
  keys: {
    settled: string;
    concurrency: string;
    requestTokens: string;
    /** The TPM window of the settle's own minute. */
    tpmWindow: string;
    counters: CounterKeys[];
    /** The workspace's counters-epoch marker (TollgateKeys.countersEpoch). */
    epoch?: string;
  };
  requestId: string;
  actualMicros: number;
  actualTokens: number;
  minuteIndex: number;
  settledTtlMs: number;
  counterKeyTtlMs: number[];
  /** Per counter, its cap (null = none): bounds the charge where the reservation is gone. */
  capMicros: (number | null)[];
  /** Most expired reservations dropped per counter when the charge must be bounded. */
  purgeLimit: number;
  /** Caller's clock (ms): stamps the counters' housekeeping (see COMMON_LUA). */
  nowMs: number;
}

/**
 * Answers the micro-USD added to spent when this call settled the request (the actual cost, or less
 * when a capped counter no longer held its reservation — see SETTLE_LUA), null when it had already
 * been settled.
 */
export async function settleScript(
  client: RedisClient,
  input: SettleScriptInput,
): Promise<number | null> {
  const k = input.keys;
  const n = k.counters.length;
  if (n !== input.counterKeyTtlMs.length || n !== input.capMicros.length) {
    throw new RangeError('counters mismatch');
  }
  const keys = [k.settled, k.concurrency, k.requestTokens, k.tpmWindow];
  for (const c of k.counters) keys.push(c.state, c.expiry, c.amount);
  if (k.epoch !== undefined) keys.push(k.epoch);
  const args = [input.requestId, arg(input.actualMicros), arg(input.actualTokens)];
  args.push(arg(input.minuteIndex), arg(input.settledTtlMs), arg(input.counterKeyTtlMs.length));
  for (const ttl of input.counterKeyTtlMs) args.push(arg(ttl));
  args.push(arg(input.nowMs));
  for (const cap of input.capMicros) args.push(cap === null ? '-1' : arg(cap));
  args.push(arg(input.purgeLimit));
  const charged = Number(await run(client, 'tollgateSettle', keys, args));
  if (!Number.isSafeInteger(charged) || charged < -1) {
    throw new Error(`settle script: unexpected reply ${charged}`);
  }
  return charged === -1 ? null : charged;
}

/** See RENEW_LUA. Answers how many counters still held the request's reservation. */
export async function renewScript(
  client: RedisClient,
  input: {
    concurrency: string;
    counters: CounterKeys[];
    requestId: string;
    expiresAtMs: number;
    concurrencyKeyTtlMs: number;
  },
): Promise<number> {
  const keys = [input.concurrency];
  for (const c of input.counters) keys.push(c.expiry, c.amount);
  const args = [input.requestId, arg(input.expiresAtMs), arg(input.concurrencyKeyTtlMs)];
  return Number(await run(client, 'tollgateRenew', keys, args));
}

export interface ReinstateScriptInput {
  keys: {
    settled: string;
    concurrency: string;
    /** The workspace's counters-epoch marker (TollgateKeys.countersEpoch). */
    epoch: string;
    counters: CounterKeys[];
  };
  requestId: string;
  nowMs: number;
  expiresAtMs: number;
  /** What the admission reserved on each counter, micro-USD. */
  amountMicros: number;
  /** The request holds a concurrency slot (its sub-account has a concurrency limit). */
  slot: boolean;
  concurrencyKeyTtlMs: number;
  purgeLimit: number;
  counters: { capMicros: number | null; keyTtlMs: number }[];
  /** Put no reservation back while the epoch marker is absent (see REINSTATE_LUA). */
  requireSeed: boolean;
}

/** See REINSTATE_LUA. `sealed` false: requireSeed and the counters are not rebuilt yet (only the
 * slot came back); `reservedMicros` -1: the request had settled. */
export async function reinstateScript(
  client: RedisClient,
  input: ReinstateScriptInput,
): Promise<{ sealed: boolean; reservedMicros: number }> {
  const k = input.keys;
  if (k.counters.length !== input.counters.length) throw new RangeError('counters mismatch');
  const keys = [k.settled, k.concurrency, k.epoch];
  for (const c of k.counters) keys.push(c.state, c.expiry, c.amount);
  const args = [input.requestId, arg(input.nowMs), arg(input.expiresAtMs), arg(input.amountMicros)];
  args.push(input.slot ? '1' : '0', arg(input.concurrencyKeyTtlMs), arg(input.purgeLimit));
  args.push(arg(input.counters.length));
  for (const c of input.counters) args.push(arg(c.capMicros), arg(c.keyTtlMs));
  args.push(input.requireSeed ? '1' : '0');
  const reply = (await run(client, 'tollgateReinstate', keys, args)) as unknown[];
  const sealed = Number(reply?.[0]);
  const reserved = Number(reply?.[1]);
  if ((sealed !== 0 && sealed !== 1) || !Number.isSafeInteger(reserved) || reserved < -1) {
    throw new Error(`reinstate script: unexpected reply ${String(reply)}`);
  }
  return { sealed: sealed === 1, reservedMicros: reserved };
}

/** spent and live reserved (expired reservations excluded) per counter, in input order. */
export async function peekScript(
  client: RedisClient,
  counters: CounterKeys[],
  nowMs: number,
  limit: number,
): Promise<{ spentMicros: number; reservedMicros: number }[]> {
  const keys = counters.flatMap((c) => [c.state, c.expiry, c.amount]);
  const r = (await run(client, 'tollgatePeek', keys, [
    arg(nowMs),
    arg(counters.length),
    arg(limit),
  ])) as number[];
  return counters.map((_, i) => ({ spentMicros: r[i * 2]!, reservedMicros: r[i * 2 + 1]! }));
}

/** Sets spent only when the counter holds none. Answers true when it set it. */
export async function seedScript(
  client: RedisClient,
  counter: CounterKeys,
  spentMicros: number,
  keyTtlMs: number,
) {
  return (
    (await run(client, 'tollgateSeed', [counter.state], [arg(spentMicros), arg(keyTtlMs)])) === 1
  );
}

/** Raises a request-count window to at least `count` (see RAISE_COUNT_LUA). True when raised. */
export async function raiseCountScript(
  client: RedisClient,
  key: string,
  count: number,
  keyTtlMs: number,
) {
  return (await run(client, 'tollgateRaiseCount', [key], [arg(count), arg(keyTtlMs)])) === 1;
}

/** Raises spent to at least `spentMicros` (see RAISE_LUA). Answers true when it raised it. */
export async function raiseScript(
  client: RedisClient,
  counter: CounterKeys,
  spentMicros: number,
  keyTtlMs: number,
) {
  return (
    (await run(client, 'tollgateRaise', [counter.state], [arg(spentMicros), arg(keyTtlMs)])) === 1
  );
}

export interface RaiseManyScriptInput {
  /** The workspace's counters-epoch marker: nothing is raised while it is missing. */
  epochKey: string;
  counters: { state: string; spentMicros: number; keyTtlMs: number }[];
}

/**
 * See RAISE_MANY_LUA. Answers null when the marker was missing (nothing changed); else, per counter
 * (input order), what it held before it was raised (0 when absent), or null when it was left alone.
 */
export async function raiseManyScript(
  client: RedisClient,
  input: RaiseManyScriptInput,
): Promise<(number | null)[] | null> {
  const keys = [input.epochKey, ...input.counters.map((c) => c.state)];
  const args = [arg(input.counters.length)];
  for (const c of input.counters) args.push(arg(c.spentMicros), arg(c.keyTtlMs));
  const r = (await run(client, 'tollgateRaiseMany', keys, args)) as number[];
  if (r[0] !== 1) return null;
  return input.counters.map((_, i) => {
    const before = r[i + 1];
    if (before === undefined) throw new Error('raise-many: short reply');
    return before < 0 ? null : before;
  });
}

export interface RestoreScriptInput {
  /** The workspace's counters-epoch marker. */
  epochKey: string;
  /** Value the marker is set to (any non-empty string; an id of this rebuild helps debugging). */
  epoch: string;
  /** Sets the marker after applying this chunk. */
  final: boolean;
  counters: { state: string; spentMicros: number; keyTtlMs: number }[];
}

/** See RESTORE_LUA. Answers false when the marker was already present (nothing changed). */
export async function restoreScript(client: RedisClient, input: RestoreScriptInput) {
  const keys = [input.epochKey, ...input.counters.map((c) => c.state)];
  const args = [input.epoch, input.final ? '1' : '0', arg(input.counters.length)];
  for (const c of input.counters) args.push(arg(c.spentMicros), arg(c.keyTtlMs));
  return (await run(client, 'tollgateRestore', keys, args)) === 1;
}
