/**
 * The interfaces the planes talk through. Each has a Redis implementation (scale-out) and an in-process
 * one (embedded single-process mode); both pass the same behavioural suite. Money is integer micro-USD.
 */

/** One spend counter: a scope's budget for one period. */
export interface Counter {
  /** e.g. 'sa:<id>', 'tag:<name>', 'ws'. Unique within one request's `spend` list. */
  scope: string;
  /** null = uncapped: still tracked (spent/reserved), never refuses. */
  capMicros: number | null;
  /** e.g. 'm2026-11' (monthly), 'w2026-47', 'd2026-11-23', 'total'. [A-Za-z0-9_.-] only. The first
   * letter decides how long the counter outlives its last write: m 40 d, w 10 d, d 3 d, else 400 d. */
  periodKey: string;
}

export interface RateLimits {
  rpm: number | null;
  rpd: number | null;
  tpm: number | null;
  maxConcurrent: number | null;
  /** Charged to the TPM window at admission, replaced by the actual tokens at settle. */
  estimatedTokens: number;
}

export interface AdmitRequest {
  workspaceId: string;
  subAccountId: string;
  requestId: string;
  /** Wall clock of the caller (ms). Windows and reservation expiry are judged on it, so replicas
   * need synchronised clocks (NTP); skew only shifts window edges and expiry by the skew. */
  nowMs: number;
  rate: RateLimits;
  /** Sub-account, each tag budget, workspace — all-or-nothing. */
  spend: Counter[];
  /** Estimated maximum cost of the request as asked. */
  worstCaseMicros: number;
  /** Cost with max_tokens clamped to the minimum useful; if even this does not fit → refusal. */
  minMicros: number;
  /** The reservation (and concurrency slot) expires after this if nobody settles it. */
  reservationTtlMs: number;
}

export interface RatesQuery {
  workspaceId: string;
  subAccountId: string;
  nowMs: number;
  rate: Pick<RateLimits, 'rpm' | 'rpd' | 'tpm'>;
}

export interface RateSnapshot {
  limitRequests: number | null;
  remainingRequests: number | null;
  resetRequestsMs: number | null;
  limitTokens: number | null;
  remainingTokens: number | null;
  resetTokensMs: number | null;
}

export type RateLimitName = 'rpm' | 'rpd' | 'tpm' | 'concurrency';

export type AdmitResult =
  | {
      ok: true;
      /** min(worstCase, smallest remaining across capped counters). */
      reservedMicros: number;
      /** reservedMicros < worstCaseMicros: the caller must lower max_tokens to fit. */
      clamped: boolean;
      rate: RateSnapshot;
    }
  | { ok: false; kind: 'rate'; limit: RateLimitName; retryAfterMs: number; rate: RateSnapshot }
  | {
      ok: false;
      kind: 'spend';
      /** The first counter (in `spend` order) where even minMicros did not fit. */
      scope: string;
      capMicros: number;
      spentMicros: number;
      reservedMicros: number;
      /** The rate limits as they stand (this request not counted), for the 402's headers. */
      rate: RateSnapshot;
    };

export interface SettleRequest {
  workspaceId: string;
  subAccountId: string;
  requestId: string;
  /** The same counters the admission reserved on. */
  spend: Counter[];
  /** Added to spent as given (the caller caps it at the reservation) — unless a capped counter no
   * longer holds the reservation (it expired and was purged, or the store lost it): then only what
   * is left under that cap is added, so the settled spend never exceeds the cap (`chargedMicros`). */
  actualMicros: number;
  actualTokens: number;
  nowMs: number;
}

export interface RenewRequest {
  workspaceId: string;
  subAccountId: string;
  requestId: string;
  /** The same counters the admission reserved on. */
  spend: Counter[];
  nowMs: number;
  /** The reservation (and concurrency slot) now expires this long after nowMs. */
  reservationTtlMs: number;
}

/** A request still in flight whose hold on the counters a loss may have taken (see `reinstate`). */
export interface ReinstateRequest {
  workspaceId: string;
  subAccountId: string;
  requestId: string;
  /** The same counters the admission reserved on. */
  spend: Counter[];
  /** What the admission reserved on each of them, micro-USD. */
  reservedMicros: number;
  /** The admission took a concurrency slot (the sub-account has a concurrency limit). */
  concurrencySlot: boolean;
  nowMs: number;
  /** What is put back expires this long after nowMs. */
  reservationTtlMs: number;
}

export interface ReinstateResult {
  /** False (only for a limiter created with `requireRebuilt`): the workspace's counters are not
   * rebuilt from the books yet — only the concurrency slot came back; ask again once they are. */
  sealed: boolean;
  /** Reserved again by this call, micro-USD: never more than fits under each capped counter now;
   * 0 when nothing was missing or nothing fits, -1 when the request had settled meanwhile. */
  reservedMicros: number;
}

export interface SettleResult {
  settled: boolean;
  /** Added to spent by this call: `actualMicros`, or less when a reservation was gone (0 when
   * already settled). What the request is billed. */
  chargedMicros: number;
}

export interface CounterBalance {
  scope: string;
  spentMicros: number;
  /** Live reservations only (expired ones are not counted). */
  reservedMicros: number;
}

/** One counter's settled spend of its period according to the books (PostgreSQL). */
export interface CounterBalanceFromBooks {
  counter: Counter;
  spentMicros: number;
}

/** What `raiseMany` did. */
export interface RaisedCounters {
  /** False: the workspace's epoch marker was missing (its counters were lost, `restore` rebuilds
   * them), so nothing was changed from the first chunk that found it missing on. */
  sealed: boolean;
  /** Per balance (input order): the figure the counter held before it was raised (0 when absent),
   * or null when it was left alone (it held as much or more, or the marker was missing). */
  before: (number | null)[];
}

export interface Limiter {
  /** One atomic check-and-reserve of rate limits and every spend counter. Rejects (throws) when the
   * store is unreachable: the caller decides to fail closed or open. With `requireRebuilt`, also
   * rejects (CountersNotRebuiltError) a request with a capped counter while its workspace's counters
   * are not rebuilt from the books (see `restore`), changing nothing. */
  admit(req: AdmitRequest): Promise<AdmitResult>;
  /** Idempotent by requestId: a second settle answers settled:false and changes nothing. */
  settle(s: SettleRequest): Promise<SettleResult>;
  /** Extends a request's reservation on every counter that still holds it (and its concurrency
   * slot); answers how many counters did. A purged reservation is not re-created. */
  renew(r: RenewRequest): Promise<number>;
  /** For a request still running: puts back its concurrency slot and its reservation on every
   * listed counter that does not hold it — after a loss of the counters (the epoch marker vanished
   * or changed), or on a counter capped since its admission — at most what fits under each cap
   * now; with `requireRebuilt`, the reservation only once the counters are rebuilt. Idempotent;
   * does nothing for a request that settled. */
  reinstate(r: ReinstateRequest): Promise<ReinstateResult>;
  spent(workspaceId: string, counters: Counter[], nowMs?: number): Promise<CounterBalance[]>;
  /** The sub-account's rate limits as they stand at `nowMs`, nothing counted (read-only): the
   * `x-ratelimit-*` headers of an answer refused before admission. */
  rates(q: RatesQuery): Promise<RateSnapshot>;
  /** Rebuild from the books: sets spent only when the counter holds none (SET NX semantics). */
  seed(workspaceId: string, counter: Counter, spentMicros: number): Promise<void>;
  /** Catch-up after a policy change put a counter in force mid-period (a tag budget created, a
   * budget period changed): raises spent to `spentMicros` (the books' settled spend of the period)
   * when it holds less or none, never lowers it. Both figures count only spend that settled, so
   * the larger never overstates the period. Answers true when it raised the counter. Not for a
   * workspace whose epoch marker is missing: `restore` rebuilds those. */
  raise(workspaceId: string, counter: Counter, spentMicros: number): Promise<boolean>;
  /** `raise` for many counters of one workspace at once (the control plane's top-up): each counter
   * raised to its balance's figure when it holds less or none, never lowered, each atomically — in
   * chunks of RAISE_CHUNK counters, one atomic step (a Lua script on Redis) each, rather than one
   * step per counter. Only while the workspace's epoch marker is present (checked in the same
   * atomic step as each chunk's raises): once the counters were lost, `restore` rebuilds them.
   * Scopes must be distinct. */
  raiseMany(workspaceId: string, balances: CounterBalanceFromBooks[]): Promise<RaisedCounters>;
  /** Rebuild after a loss: raises a sub-account's requests-per-day window of the UTC day holding
   * `nowMs` to at least `requests` (the books' count), never lowers it. True when it raised it. */
  raiseRequestsToday(
    workspaceId: string,
    subAccountId: string,
    requests: number,
    nowMs: number,
  ): Promise<boolean>;
  /** Rebuild after a loss: raises a sub-account's request and token windows of the minute holding
   * `nowMs` (RPM, TPM) to at least the books' figures, never lowers them. True when one was raised. */
  raiseThisMinute(
    workspaceId: string,
    subAccountId: string,
    used: { requests: number; tokens: number },
    nowMs: number,
  ): Promise<boolean>;
  /** Per workspace (input order): the counters-epoch marker, or null when the store does not hold
   * it — its counters were lost (Redis flushed, restarted empty, process restarted) or never
   * rebuilt — and `restore` must run. */
  epochs(workspaceIds: string[]): Promise<(string | null)[]>;
  /** Rebuilds one workspace's counters after a loss, at most once per loss even when several control
   * planes race: does nothing when the marker is present; otherwise gives every listed counter its
   * books' figure — added to what settled since the loss on a counter created after it, left alone on
   * a counter that survived — then sets the marker to `epoch`. Answers false when the marker was
   * already present. List every counter whose books' figure is not zero. */
  restore(
    workspaceId: string,
    balances: CounterBalanceFromBooks[],
    epoch: string,
  ): Promise<boolean>;
  close(): Promise<void>;
}

/** Called for every announcement. revision -1 / payload null: an announcement may have been missed
 * (unreadable message, or the subscription reconnected) — the receiver re-reads "latest". */
export type PolicyAnnounce = (revision: number, payload: string | null) => void;

/** A delta kept in the log beside the base snapshot. */
export interface LoggedDelta {
  revision: number;
  payload: string;
}

/**
 * How policy reaches data planes (SPEC §10). "Latest" is a base snapshot plus the log of deltas
 * announced since it: a data plane that starts, or finds a gap, reads the base only when it is newer
 * than what it holds, then applies the logged deltas after its revision. The publisher replaces the
 * base now and then (compaction), which drops the deltas it covers; so an admin change costs one
 * small delta, not a full snapshot, however many sub-accounts there are.
 */
export interface PolicyBus {
  /** Announce a revision to every subscriber (payload may be a delta). Fire-and-forget: a subscriber
   * that was away misses it and must detect the gap from revision numbers. */
  publish(revision: number, payload: string): Promise<void>;
  /** Stores `payload`, the full snapshot at `revision`, as the base — unless the base stored is
   * newer (two publishers racing) — and drops the logged deltas it covers (revision ≤ its own).
   * `history` names the database's history of revisions: a base of another history (the database
   * was replaced, Redis kept), whose revisions mean nothing here, is replaced whatever its revision,
   * and its log emptied. Answers whether it was stored. */
  setLatest(payload: string, revision: number, history?: string): Promise<boolean>;
  getLatest(): Promise<string | null>;
  /** The revision of the stored base, without fetching it; null when none is stored or its
   * revision was not recorded (a base written by an older publisher: read it to know). */
  latestRevision(): Promise<number | null>;
  /** The history the stored base belongs to (see setLatest); null when none is recorded. */
  latestHistory(): Promise<string | null>;
  /** The stored base's length in characters, without fetching it; 0 when none is stored. */
  latestLength(): Promise<number>;
  /** Logs a delta (replacing one logged at the same revision; not logged when the base covers it).
   * The log keeps at most MAX_LOGGED_DELTAS, dropping the oldest: a reader then finds a gap and
   * waits for the next base. Answers false when no base is stored (Redis lost it): the log alone
   * is of no use to a reader starting now, so the publisher must store a base. */
  appendDelta(revision: number, payload: string): Promise<boolean>;
  /** Logged deltas with a revision above `after`, oldest first, at most `limit` (default 1,000). */
  readDeltas(after: number, limit?: number): Promise<LoggedDelta[]>;
  /** Resolves once subscribed; the returned function unsubscribes. */
  subscribe(onAnnounce: PolicyAnnounce): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface UsageEntry {
  id: string;
  data: string;
}

export interface UsageConsumerOptions {
  group: string;
  consumer: string;
  /** Entries are acknowledged only after this resolves; if it throws, the whole batch is delivered
   * again (at least once), so it must be idempotent. */
  handler: (entries: UsageEntry[]) => Promise<void>;
  /** How long one read waits for new entries. */
  blockMs: number;
  /** Most entries per handler call. Default 100. */
  batchSize?: number;
  /** Entries pending this long in another (dead) consumer are claimed. Default 30 000. */
  claimIdleMs?: number;
  /** Other consumers of the group idle this long with nothing pending are removed from it when
   * this one starts (replicas gone for good; a graceful stop removes its own). Default 1 h. */
  forgetIdleMs?: number;
  /** How often (at most) the entries every group has acknowledged are deleted from the stream
   * (Redis; in memory they go at once). Default 5 000. */
  trimEveryMs?: number;
  /** Pause after a failed handler call (or read) before trying again. Default 1 000. */
  retryDelayMs?: number;
  /** Told about every handler or store failure (the consumer keeps going). Default: ignored. */
  onError?: (err: unknown) => void;
}

export interface UsageConsumer {
  start(): Promise<void>;
  /** Stops reading; waits for the handler call in flight and acknowledges it if it succeeds. */
  stop(): Promise<void>;
}

/** How far a consumer group is behind (metrics). */
export interface UsageLag {
  /** Delivered to a consumer, not yet acknowledged. */
  pending: number;
  /** Appended, not yet delivered to any consumer of the group. */
  undelivered: number;
  /** Age of the oldest entry not yet acknowledged (pending or undelivered); null when none. */
  oldestUnackedMs: number | null;
}

export interface UsageStream {
  /** All or nothing is not promised: on a rejection some entries may be in; retrying may duplicate
   * them, which ingestion absorbs (idempotent by request id). */
  append(batch: string[]): Promise<void>;
  createConsumer(opts: UsageConsumerOptions): UsageConsumer;
  /** The group's backlog (for metrics); a group not created yet counts every entry undelivered. */
  lag?(group: string): Promise<UsageLag>;
  /** Stops every consumer it created. */
  close(): Promise<void>;
}

/**
 * Fan-out of committed events (budget events, spend updates) to every control-plane replica, so a
 * subscriber connected to any replica hears what another replica ingested. Fire-and-forget like
 * pub/sub: the durable copy is in PostgreSQL; a replica that was away misses live messages.
 */
export interface EventBus {
  publish(message: string): Promise<void>;
  /** Resolves once subscribed; the returned function unsubscribes. */
  subscribe(onMessage: (message: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** Counts failures per key in fixed windows (throttling of failed authentications). */
export interface FailureCounter {
  /** Records one failure; a window opens at the first and lasts `windowMs`. Answers the count. */
  hit(key: string, windowMs: number): Promise<number>;
  /** Failures in the key's open window and the ms it has left (0 and 0 when none is open). */
  peek(key: string): Promise<{ count: number; ttlMs: number }>;
}

export interface Bus {
  mode: 'redis' | 'in-process';
  limiter: Limiter;
  policy: PolicyBus;
  usage: UsageStream;
  events: EventBus;
  /** Resolves when the store answers (readiness probes); rejects at once while Redis is
   * disconnected. Absent in-process (always reachable). */
  ping?(): Promise<void>;
  /** Failure windows shared by every process on the bus (Redis), or this process's. */
  failures?: FailureCounter;
  /** Stops the consumers and subscriptions it created (a consumer's batch in flight is finished and
   * acked first), then closes the connections it opened. */
  close(): Promise<void>;
}
