import { z } from 'zod';

/**
 * The entities a policy snapshot carries, as the control plane publishes them. Field rules are the
 * contract: the publisher validates with these schemas before sending (encodeSnapshot) and every data
 * plane validates on receipt, so a value that would break enforcement (a fractional cap, a malformed
 * key hash) is refused at the wire and the last good policy stays in force.
 *
 * Unknown fields are stripped, not refused: a publisher may add an ignorable field within version 1
 * during a rolling upgrade. Anything that changes how requests are judged must bump `version`.
 */

/** Ids are used verbatim inside Redis keys (packages/redis), which only accept this alphabet. */
export const ID = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,128}$/, 'id must match [A-Za-z0-9_.-]{1,128}');

/** Cost-attribution tag: what `x-tollgate-tag` / `metadata.tags` may carry (see tags.ts). */
export const TAG = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'tag must match [A-Za-z0-9_.:-]{1,64}');

/** `provider/model`, e.g. `openai/gpt-5.4-mini` (same rule as @tollgate/pricing). */
export const MODEL = z.string().regex(/^[^/\s]+\/\S+$/, 'model must be named provider/model');

/** Provider name: the part of a model name before the first `/`. */
export const PROVIDER = z.string().regex(/^[^/\s]{1,64}$/, 'provider must not contain / or spaces');

/** An amount of micro-USD: integer, never a float (DESIGN.md, style 7). */
export const MICROS = z.int().min(0);

/** A rate limit or concurrency bound; null = unlimited. */
const LIMIT = z.int().min(0).nullable();

/** UTC timestamp as produced by `Date.prototype.toISOString()`. */
export const ISO_TIME = z.iso.datetime();

/** Counters reset at the start of each period, in UTC; `total` never resets. */
export const BudgetPeriodSchema = z.enum(['monthly', 'daily', 'weekly', 'total']);
export type BudgetPeriod = z.infer<typeof BudgetPeriodSchema>;

/** A percentage with at most two decimals (12.5, 7.25): exact in basis points, so billing is exact.
 * The upper bound is only a sanity bound keeping basis points far inside safe integers. */
const MARKUP_PERCENT = z
  .number()
  .min(0)
  .max(100_000)
  .refine((n) => /^\d+(\.\d{1,2})?$/.test(String(n)), 'markupPercent allows at most 2 decimals');

export const WorkspacePolicySchema = z.object({
  /** `ws_…` */
  id: ID,
  /** Markup on billed cost, percent with ≤ 2 decimals (12.5 = +12.5 %). */
  markupPercent: MARKUP_PERCENT,
  /** Cap over all sub-accounts of the workspace per `budgetPeriod`, micro-USD; null = uncapped. */
  spendCapMicros: MICROS.nullable(),
  /** Period of `spendCapMicros`. */
  budgetPeriod: BudgetPeriodSchema,
  /** Whether traffic on the workspace's own provider key (BYOK) is billed without markup. */
  byokWaivesMarkup: z.boolean(),
});
export type WorkspacePolicy = z.infer<typeof WorkspacePolicySchema>;

/** The sub-account settings a plan provides and a sub-account may override one by one. */
export const INHERITABLE_FIELDS = [
  'spendCapMicros',
  'budgetPeriod',
  'rateLimitRpm',
  'rateLimitRpd',
  'rateLimitTpm',
  'maxConcurrent',
  'allowedModels',
  'defaultTag',
  'fallbackModel',
] as const;
export const InheritableFieldSchema = z.enum(INHERITABLE_FIELDS);
export type InheritableField = z.infer<typeof InheritableFieldSchema>;

export const SubAccountStatusSchema = z.enum(['active', 'suspended', 'deleted']);
export type SubAccountStatus = z.infer<typeof SubAccountStatusSchema>;

export const SubAccountPolicySchema = z.object({
  /** `sa_…` */
  id: ID,
  /** Owning workspace; must be present in the same snapshot. */
  workspaceId: ID,
  /** Only `active` sub-accounts are served; `deleted` stays listed so its keys answer 401. */
  status: SubAccountStatusSchema,
  /** Spend cap per `budgetPeriod`, micro-USD; null = uncapped (still counted). */
  spendCapMicros: MICROS.nullable(),
  /** Period of `spendCapMicros`. */
  budgetPeriod: BudgetPeriodSchema,
  /** Requests per minute; null = unlimited. */
  rateLimitRpm: LIMIT,
  /** Requests per UTC day; null = unlimited. */
  rateLimitRpd: LIMIT,
  /** Tokens (input + output) per minute; null = unlimited. */
  rateLimitTpm: LIMIT,
  /** Requests in flight at once; null = unlimited. */
  maxConcurrent: LIMIT,
  /** Exact `provider/model` names this sub-account may call; empty = every priced model. */
  allowedModels: z.array(MODEL),
  /** Tag attributed to requests that carry none; null = untagged. */
  defaultTag: TAG.nullable(),
  /** Prepaid balance: `spendCapMicros` is the sum of its credits (period `total`), and a refusal
   * says `balance_exhausted`. Absent = false (snapshots from before the field). */
  prepaid: z.boolean().optional(),
  /** Model served instead of the requested one when the requested model's worst case no longer
   * fits the remaining budget (downgrade routing); absent or null = refuse or clamp as usual. */
  fallbackModel: MODEL.nullable().optional(),
  /** Plan whose settings this sub-account inherits; absent = every setting above is its own. The
   * plan must be present in the same snapshot; a sub-account whose plan is missing fails closed. */
  planId: ID.optional(),
  /** With `planId`: the settings set on the sub-account itself; every other inheritable setting
   * is read from the plan (see effectiveSubAccount). Absent = none overridden. */
  overrides: z.array(InheritableFieldSchema).optional(),
});
export type SubAccountPolicy = z.infer<typeof SubAccountPolicySchema>;

export const PlanPolicySchema = z.object({
  /** `plan_…` */
  id: ID,
  /** Owning workspace; must be present in the same snapshot. */
  workspaceId: ID,
  /** Spend cap per `budgetPeriod` of each sub-account on the plan, micro-USD; null = uncapped. */
  spendCapMicros: MICROS.nullable(),
  budgetPeriod: BudgetPeriodSchema,
  rateLimitRpm: LIMIT,
  rateLimitRpd: LIMIT,
  rateLimitTpm: LIMIT,
  maxConcurrent: LIMIT,
  /** Exact `provider/model` names; empty = every priced model. */
  allowedModels: z.array(MODEL),
  defaultTag: TAG.nullable(),
  /** Markup for the plan's sub-accounts, replacing the workspace's; null = the workspace's. */
  markupPercent: MARKUP_PERCENT.nullable(),
  /** Downgrade-routing fallback model; null = none. */
  fallbackModel: MODEL.nullable(),
});
export type PlanPolicy = z.infer<typeof PlanPolicySchema>;

export const KeyPolicySchema = z.object({
  /** `key_…`; usage records name the key by this id, never by its hash. */
  id: ID,
  /** Owning sub-account; must be present in the same snapshot. */
  subAccountId: ID,
  /** Lower-case hex sha-256 of the plaintext key: the only form of a key that ever leaves the
   * control plane, and the data plane's lookup index. */
  hash: z.string().regex(/^[0-9a-f]{64}$/, 'hash must be lower-case hex sha-256'),
  /** The key stops working at this instant (inclusive); null = never expires. */
  expiresAt: ISO_TIME.nullable(),
  /** Revoked keys stay listed (rather than vanishing) so they answer `key_revoked`. */
  revoked: z.boolean(),
});
export type KeyPolicy = z.infer<typeof KeyPolicySchema>;

export const TagBudgetPolicySchema = z.object({
  /** `bud_…` */
  id: ID,
  /** Owning workspace; one budget per (workspace, tag). */
  workspaceId: ID,
  /** Every request carrying this tag counts against the budget, across all sub-accounts. */
  tag: TAG,
  /** Cap per `budgetPeriod`, micro-USD. */
  capMicros: MICROS,
  /** Period of `capMicros`. */
  budgetPeriod: BudgetPeriodSchema,
});
export type TagBudgetPolicy = z.infer<typeof TagBudgetPolicySchema>;

export const PricePolicySchema = z.object({
  /** Workspace whose price this is; other workspaces keep the catalogue price. */
  workspaceId: ID,
  /** `provider/model` priced; may be a model the catalogue does not know (self-hosted upstreams). */
  model: MODEL,
  /** Micro-USD per 1M uncached input tokens. */
  inputPerMTok: MICROS,
  /** Micro-USD per 1M output tokens. */
  outputPerMTok: MICROS,
  /** Micro-USD per 1M cache-read input tokens. */
  cachedInputPerMTok: MICROS,
  /** Micro-USD per 1M cache-write input tokens. */
  cacheWritePerMTok: MICROS,
});
export type PricePolicy = z.infer<typeof PricePolicySchema>;

export const ProviderRoutePolicySchema = z.object({
  /** Workspace that brought its own key (BYOK) for `provider`. */
  workspaceId: ID,
  /** Provider name, e.g. `openai`, `anthropic`, or a registered OpenAI-compatible name. */
  provider: PROVIDER,
  /** Upstream base URL; null = the provider's default. */
  baseUrl: z.url({ protocol: /^https?$/ }).nullable(),
  /** Wire flavour: `azure` (Azure OpenAI deployment paths, `api-key` header) or `openai`. Absent (as
   * in snapshots published before the field existed) = the data plane's platform flavour. */
  kind: z.enum(['openai', 'azure']).optional(),
  /** Azure OpenAI `api-version` (kind `azure`); absent = the platform default. */
  apiVersion: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}(-preview)?$/, 'api-version must look like 2024-10-21')
    .optional(),
  /** The provider key sealed by the control plane (opaque ciphertext); only a data plane holding
   * TOLLGATE_SECRET_KEY can open it, so snapshots in Redis never hold a usable key. */
  sealedApiKey: z.string().min(1),
  /** Set only on the entries of `subAccountRoutes`: the sub-account whose own key this is. */
  subAccountId: ID.optional(),
});
export type ProviderRoutePolicy = z.infer<typeof ProviderRoutePolicySchema>;
