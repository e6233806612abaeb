import { z } from 'zod';

/**
 * The usage event: one per request — served, failed or blocked (SPEC §7) — emitted by the data
 * plane after settling, carried over the usage stream, and written by the control plane's
 * ingestor as one usage record (idempotent by `requestId`).
 *
 * Validation is deliberately about what the books need, not about taste: an event the ingestor
 * rejects is money missing from the records, so a rule belongs here only when a violating value
 * would corrupt a record or a rollup (a fractional cost, a non-UTC timestamp that would land on the
 * wrong day). Unknown fields are stripped, not refused, so a newer data plane may add an ignorable
 * field during a rolling upgrade; anything that changes what a field means bumps `v`.
 */

/** The only event version this package reads or writes. */
export const USAGE_EVENT_VERSION = 1;

/** A count of tokens, retries or milliseconds. */
const COUNT = z.int().min(0);

/** Micro-USD: an integer (money is never a float), within safe integers (z.int enforces it). */
const MICROS = z.int().min(0);

/** UTC timestamp as `Date.prototype.toISOString()` writes it (`Z`, no offset): the ingestor takes
 * the record's day from its first ten characters. */
const ISO_TIME = z.iso.datetime();

/** An id as the control plane issued it (`ws_…`, `sa_…`, `key_…`); same alphabet as policy ids. */
const ID = z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'id must match [A-Za-z0-9_.-]{1,128}');

/** Same rule as @tollgate/policy's tags (this package may not depend on it). */
const TAG = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'tag must match [A-Za-z0-9_.:-]{1,64}');

/** Which budget refused a request (the 402's `scope`): the sub-account's or the workspace's cap, or
 * one tag budget. */
export const BlockedScopeSchema = z.union([
  z.enum(['sub_account', 'workspace']),
  z.string().regex(/^tag:[A-Za-z0-9_.:-]{1,64}$/, 'a tag scope must be tag:<tag>'),
]);
export type BlockedScope = z.infer<typeof BlockedScopeSchema>;

export const UsageStatusSchema = z.enum(['ok', 'error', 'blocked']);
export type UsageStatus = z.infer<typeof UsageStatusSchema>;

export const UsageEventSchema = z.object({
  /** Event version; readers refuse any other value. */
  v: z.literal(USAGE_EVENT_VERSION),
  /** The request's id (`x-request-id`); unique per request, the ingestor's idempotency key. */
  requestId: z.string().min(1).max(200),
  /** Settlement attempt of this request, from 0; a re-emitted event repeats the same request id. */
  attempt: COUNT,
  /** Workspace the request is attributed to. */
  workspaceId: ID,
  /** Sub-account of the key; null when the request was refused before a key was known. */
  subAccountId: ID.nullable(),
  /** Key id (never the key or its hash); null when no key was recognised. */
  keyId: ID.nullable(),
  /** Tags the usage is attributed to (header, else body, else the default tag); may be empty. */
  tags: z.array(TAG).max(64),
  /** `provider/model` as the client asked for it; may be empty or unusual when the request was
   * blocked for naming no known model, hence only bounded. */
  model: z.string().max(256),
  /** When downgrade routing served a fallback: the `provider/model` the client asked for, while
   * `model` names the fallback that served (and is billed). Absent or null = `model` was asked for
   * (additive within version 1). */
  requestedModel: z.string().max(256).nullable().optional(),
  /** Model the provider reports having served (it may pin a dated version); null if not reached. */
  servedModel: z.string().max(256).nullable(),
  /** Provider the request went (or would have gone) to; null when the request was not routed. */
  provider: z.string().min(1).max(64).nullable(),
  /** Whether the workspace's own provider key (BYOK) carried the request. */
  byok: z.boolean(),
  /** Uncached input tokens. */
  inputTokens: COUNT,
  /** Output tokens (reasoning included). */
  outputTokens: COUNT,
  /** Input tokens read from the provider's prompt cache. */
  cachedInputTokens: COUNT,
  /** Input tokens written to the provider's prompt cache (Anthropic). */
  cacheWriteTokens: COUNT,
  /** What the provider charges for this request, micro-USD (0 when nothing was served). */
  providerCostMicros: MICROS,
  /** What the sub-account is billed: provider cost plus the workspace markup, micro-USD. */
  billedCostMicros: MICROS,
  /** True when the bill is less than provider cost plus markup because a capped budget could not
   * take more at settlement (the request cost more than its reservation near the cap): the cap
   * held, and the operator carries the difference. Optional and additive (so still `v: 1`). */
  cappedAtSettle: z.boolean().optional(),
  /** True when the tokens were estimated because the provider reported no usage (SPEC §6). */
  estimated: z.boolean(),
  /** `ok`: served; `error`: dispatched but failed; `blocked`: refused before dispatch. */
  status: UsageStatusSchema,
  /** Machine-readable class of the failure (`model_not_allowed`, `upstream_timeout`, …); null
   * when `status` is `ok`. */
  errorClass: z.string().min(1).max(64).nullable(),
  /** The budget that refused the request when it was answered 402 (`budget_exceeded`), as the
   * 402's `scope`; null otherwise. Optional and additive (so still `v: 1`): an event of an older
   * data plane has none, and readers then guess from `errorClass` as before. */
  blockedScope: BlockedScopeSchema.nullable().optional(),
  /** HTTP status answered to the client (499 when the client went away first). */
  httpStatus: z.int().min(100).max(599),
  /** HTTP status the provider answered when it refused or failed the request (the 502's
   * `provider_status`, a passed-through 4xx); absent or null when it did not answer one (served,
   * timed out, connection lost, blocked). Optional and additive (so still `v: 1`). */
  upstreamStatus: z.int().min(100).max(599).nullable().optional(),
  /** The limit that refused a request blocked by a rate limit (`errorClass` `rpm`, `rpd`, `tpm` or
   * `concurrency`): its value and the `Retry-After` answered, in seconds (null when waiting cannot
   * help: the request alone is over the limit). Optional and additive (so still `v: 1`). */
  rateLimit: z.object({ value: COUNT, retryAfterSeconds: COUNT.nullable() }).nullable().optional(),
  /** From receiving the request to the end of the answer, ms. */
  latencyMs: COUNT,
  /** Time to the first streamed token (or the first response byte), ms; null if none came. */
  ttftMs: COUNT.nullable(),
  /** Upstream retries performed (0 = first attempt succeeded or failed for good). */
  retries: COUNT,
  /** Whether the client asked for a stream. */
  stream: z.boolean(),
  /** When the request was received (UTC ISO). */
  startedAt: ISO_TIME,
  /** When the answer ended (UTC ISO). */
  finishedAt: ISO_TIME,
  /** Worst-case cost reserved before dispatch, micro-USD (0 when nothing was reserved). */
  reservationMicros: MICROS,
});
export type UsageEvent = z.infer<typeof UsageEventSchema>;
