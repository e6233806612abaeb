/**
 * Key, channel and stream names. Every key that one admission touches lives under the workspace's hash
 * tag `{tg:<prefix>:ws:<workspaceId>}`, so the admit/settle scripts stay single-slot on Redis Cluster
 * (a workspace cap and all its sub-accounts' counters must be checked in one atomic script).
 *
 * Variable parts that may contain `:` (scope, request id) always come last, after fixed-format parts,
 * so two different inputs can never build the same key.
 */

/** Prefixes, workspace ids, sub-account ids and period keys: no braces (they would move the hash tag)
 * and no `:` (they are separators). */
const SAFE_PART = /^[A-Za-z0-9_.-]{1,128}$/;

function safe(kind: string, value: string): string {
  if (!SAFE_PART.test(value)) {
    throw new RangeError(`${kind} must match ${SAFE_PART} (got ${JSON.stringify(value)})`);
  }
  return value;
}

/** The three keys that make one spend counter (scope × period). */
export interface CounterKeys {
  /** HASH { spent, reserved } in micro-USD. `spent` is absent until the first settle or seed. */
  state: string;
  /** ZSET requestId → reservation expiry (ms since epoch, caller's clock). */
  expiry: string;
  /** HASH requestId → reserved micro-USD. */
  amount: string;
}

export interface TollgateKeys {
  readonly prefix: string;
  /** The hash tag shared by every key of one workspace (braces included). */
  workspaceTag(workspaceId: string): string;
  counter(workspaceId: string, scope: string, periodKey: string): CounterKeys;
  /** ZSET requestId → slot expiry: in-flight requests of one sub-account. */
  concurrency(workspaceId: string, subAccountId: string): string;
  /** STRING request count in the fixed minute window `minuteIndex` (= floor(ms / 60 000)). */
  rpmWindow(workspaceId: string, subAccountId: string, minuteIndex: number): string;
  /** STRING request count in the fixed UTC day window `dayIndex` (= floor(ms / 86 400 000)). */
  rpdWindow(workspaceId: string, subAccountId: string, dayIndex: number): string;
  /** STRING token count in the fixed minute window. */
  tpmWindow(workspaceId: string, subAccountId: string, minuteIndex: number): string;
  /** STRING "<minuteIndex>:<estimatedTokens>": what admission charged to TPM, corrected at settle. */
  requestTokens(workspaceId: string, requestId: string): string;
  /** STRING marker: this request id was settled (idempotency), with a TTL. */
  settled(workspaceId: string, requestId: string): string;
  /** STRING: set once this workspace's spend counters hold the books' figures (after a rebuild from
   * PostgreSQL). Its absence means Redis lost (or never had) them: see RESTORE_LUA. */
  countersEpoch(workspaceId: string): string;
  /** STRING: the latest full policy snapshot (the base of "latest"). */
  policyLatest(): string;
  /** STRING: the revision of `policyLatest`, so readers can tell without fetching the document.
   * Named with `policyLatest` as its hash tag, like `policyDeltas`: one script writes all three. */
  policyLatestRevision(): string;
  /** ZSET: the deltas announced since the base, scored by revision (the rest of "latest"). */
  policyDeltas(): string;
  /** STRING: the history of revisions the base and its log belong to (PolicyState.history). */
  policyHistory(): string;
  /** Pub/sub channel: policy revision announcements. */
  policyChannel(): string;
  /** Pub/sub channel: budget events and spend updates, control plane → control planes. */
  eventsChannel(): string;
  /** STREAM: usage events, data plane → control plane. */
  usageStream(): string;
  /** SCAN MATCH patterns covering exactly the keys built from this prefix (tests, resets). */
  patterns(): string[];
}

export function createKeys(prefix: string): TollgateKeys {
  safe('prefix', prefix);
  const root = `tg:${prefix}`;
  const tag = (ws: string) => `{${root}:ws:${safe('workspaceId', ws)}}`;
  const sa = (id: string) => safe('subAccountId', id);
  const int = (kind: string, n: number) => {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${kind} must be an integer >= 0`);
    return n;
  };
  return {
    prefix,
    workspaceTag: tag,
    counter(ws, scope, periodKey) {
      const tail = `${safe('periodKey', periodKey)}:${scope}`;
      return {
        state: `${tag(ws)}:cs:${tail}`,
        expiry: `${tag(ws)}:cx:${tail}`,
        amount: `${tag(ws)}:ca:${tail}`,
      };
    },
    concurrency: (ws, id) => `${tag(ws)}:conc:${sa(id)}`,
    rpmWindow: (ws, id, m) => `${tag(ws)}:rpm:${int('minuteIndex', m)}:${sa(id)}`,
    rpdWindow: (ws, id, d) => `${tag(ws)}:rpd:${int('dayIndex', d)}:${sa(id)}`,
    tpmWindow: (ws, id, m) => `${tag(ws)}:tpm:${int('minuteIndex', m)}:${sa(id)}`,
    requestTokens: (ws, requestId) => `${tag(ws)}:rqt:${requestId}`,
    settled: (ws, requestId) => `${tag(ws)}:done:${requestId}`,
    countersEpoch: (ws) => `${tag(ws)}:epoch`,
    policyLatest: () => `${root}:policy:latest`,
    // Hash-tagged with the base's whole name, so the three share its slot (one script writes them).
    policyLatestRevision: () => `{${root}:policy:latest}:revision`,
    policyDeltas: () => `{${root}:policy:latest}:deltas`,
    policyHistory: () => `{${root}:policy:latest}:history`,
    policyChannel: () => `${root}:policy:announce`,
    eventsChannel: () => `${root}:events`,
    usageStream: () => `${root}:usage`,
    patterns: () => [`{${root}:*`, `${root}:*`],
  };
}
