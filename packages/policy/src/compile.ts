import {
  INHERITABLE_FIELDS,
  type KeyPolicy,
  type PlanPolicy,
  type PricePolicy,
  type ProviderRoutePolicy,
  type SubAccountPolicy,
  type TagBudgetPolicy,
  type WorkspacePolicy,
} from './entities.ts';
import { pairKey } from './invariants.ts';
import { ShardedMap } from './sharded-map.ts';
import type { PolicySnapshot } from './wire.ts';

/**
 * The runtime form of a policy (DESIGN.md, style 6): built once per snapshot, never mutated, and
 * swapped whole by its holder, so a request judged against one revision never sees half of the
 * next. Every lookup on the request path is O(1).
 *
 * Ancestors are resolved at lookup (key → sub-account → workspace, two more O(1) reads) rather than
 * stored in a precomputed chain: with chains, editing one workspace (its markup, its cap) would
 * rewrite the entry of every key under it, and a delta would cost O(keys in the workspace).
 */

/** Price rates in micro-USD per 1M tokens; @tollgate/pricing's ModelPrice satisfies this shape. */
export interface PriceRates {
  readonly inputPerMTok: number;
  readonly outputPerMTok: number;
  readonly cachedInputPerMTok: number;
  readonly cacheWritePerMTok: number;
}

/** The catalogue lookup, injected so this package stays free of internal dependencies. */
export type BasePriceLookup = (model: string) => PriceRates | undefined;

/** The price a request is billed at, and where it came from. */
export interface ResolvedPrice extends PriceRates {
  readonly model: string;
  /** `workspace`: the workspace's override; `base`: the catalogue given to compile(). */
  readonly source: 'workspace' | 'base';
}

/** A key with its expiry parsed once, so judging expiry is a number comparison. */
export interface CompiledKey extends Readonly<KeyPolicy> {
  /** `expiresAt` in ms since the epoch; null = never expires. */
  readonly expiresAtMs: number | null;
}

export interface CompiledPolicy {
  /** Revision of the last snapshot or delta applied. */
  readonly revision: number;
  /** `generatedAt` of the snapshot this was compiled from (deltas do not change it). */
  readonly snapshotGeneratedAt: string;
  readonly workspaces: ShardedMap<Readonly<WorkspacePolicy>>;
  readonly subAccounts: ShardedMap<Readonly<SubAccountPolicy>>;
  readonly keysById: ShardedMap<CompiledKey>;
  /** The authentication index: hex sha-256 of the bearer key → key. */
  readonly keysByHash: ShardedMap<CompiledKey>;
  readonly tagBudgetsById: ShardedMap<Readonly<TagBudgetPolicy>>;
  /** `${workspaceId}\0${tag}` → budget. Flat, not per workspace: one workspace may hold many
   * budgets (one per customer feature), and a flat sharded map keeps each edit small. */
  readonly tagBudgetsByTag: ShardedMap<Readonly<TagBudgetPolicy>>;
  /** workspaceId → model → override. Grouped per workspace so `/v1/models` can list a
   * workspace's own models; a workspace has few overrides, so copying its inner map is cheap. */
  readonly prices: ShardedMap<ReadonlyMap<string, Readonly<PricePolicy>>>;
  /** workspaceId → provider → BYOK route (same grouping reason as `prices`). */
  readonly providerRoutes: ShardedMap<ReadonlyMap<string, Readonly<ProviderRoutePolicy>>>;
  /** Catalogue prices under the overrides; undefined = only overrides are known prices. */
  readonly basePrices: BasePriceLookup | undefined;
  /** Plans by id; sub-accounts reference them and are resolved at lookup (effectiveSubAccount),
   * so a plan edit is one entry here, however many sub-accounts are on the plan. */
  readonly plans: ShardedMap<Readonly<PlanPolicy>>;
  /** subAccountId → provider → the sub-account's own BYOK route. */
  readonly subAccountRoutes: ShardedMap<ReadonlyMap<string, Readonly<ProviderRoutePolicy>>>;
}

export interface CompileOptions {
  /** Catalogue lookup consulted when a workspace has no override for a model. Without it, only
   * overridden models have a price, and decide() answers `model_not_found` for every other one. */
  basePrices?: BasePriceLookup;
}

export function compileKey(key: KeyPolicy): CompiledKey {
  return { ...key, expiresAtMs: key.expiresAt === null ? null : Date.parse(key.expiresAt) };
}

/** Group entries per workspace: workspaceId → name → entry. */
export function groupByWorkspace<T extends { workspaceId: string }>(
  entries: readonly T[],
  nameOf: (entry: T) => string,
): ShardedMap<ReadonlyMap<string, T>> {
  const groups = new Map<string, Map<string, T>>();
  for (const entry of entries) {
    let group = groups.get(entry.workspaceId);
    if (group === undefined) {
      group = new Map();
      groups.set(entry.workspaceId, group);
    }
    group.set(nameOf(entry), entry);
  }
  return ShardedMap.from(groups);
}

/** The indexes whose size is the installation's: built in one piece or a slice at a time. */
interface LargeIndexes {
  subAccounts: CompiledPolicy['subAccounts'];
  keysById: CompiledPolicy['keysById'];
  keysByHash: CompiledPolicy['keysByHash'];
}

function assemble(
  snapshot: PolicySnapshot,
  options: CompileOptions,
  large: LargeIndexes,
): CompiledPolicy {
  return {
    revision: snapshot.revision,
    snapshotGeneratedAt: snapshot.generatedAt,
    workspaces: ShardedMap.from(snapshot.workspaces.map((w) => [w.id, w] as const)),
    ...large,
    tagBudgetsById: ShardedMap.from(snapshot.tagBudgets.map((b) => [b.id, b] as const)),
    tagBudgetsByTag: ShardedMap.from(
      snapshot.tagBudgets.map((b) => [pairKey(b.workspaceId, b.tag), b] as const),
    ),
    prices: groupByWorkspace(snapshot.prices, (p) => p.model),
    providerRoutes: groupByWorkspace(snapshot.providerRoutes, (r) => r.provider),
    basePrices: options.basePrices,
    plans: ShardedMap.from((snapshot.plans ?? []).map((p) => [p.id, p] as const)),
    subAccountRoutes: groupBySubAccount(snapshot.subAccountRoutes ?? []),
  };
}

/**
 * Compile a decoded (hence valid and consistent) snapshot. O(n) in the number of entities; builds
 * fresh indexes and shares the entity objects of the snapshot, which the caller must not mutate.
 */
export function compile(snapshot: PolicySnapshot, options: CompileOptions = {}): CompiledPolicy {
  const keys = snapshot.keys.map(compileKey);
  return assemble(snapshot, options, {
    subAccounts: ShardedMap.from(snapshot.subAccounts.map((a) => [a.id, a] as const)),
    keysById: ShardedMap.from(keys.map((k) => [k.id, k] as const)),
    keysByHash: ShardedMap.from(keys.map((k) => [k.hash, k] as const)),
  });
}

/** `compile`, the sub-account and key indexes built `slice` entities between two yields to the
 * event loop: a data plane installing a base of 100k sub-accounts held every request for 0.4 s. */
export async function compileInSlices(
  snapshot: PolicySnapshot,
  options: CompileOptions = {},
  slice = 2_000,
): Promise<CompiledPolicy> {
  const keys = snapshot.keys.map(compileKey);
  return assemble(snapshot, options, {
    subAccounts: await ShardedMap.fromInSlices(snapshot.subAccounts, (a) => [a.id, a], slice),
    keysById: await ShardedMap.fromInSlices(keys, (k) => [k.id, k], slice),
    keysByHash: await ShardedMap.fromInSlices(keys, (k) => [k.hash, k], slice),
  });
}

/** Sub-account routes grouped subAccountId → provider → route. */
export function groupBySubAccount(
  routes: readonly ProviderRoutePolicy[],
): ShardedMap<ReadonlyMap<string, Readonly<ProviderRoutePolicy>>> {
  const groups = new Map<string, Map<string, ProviderRoutePolicy>>();
  for (const route of routes) {
    const owner = route.subAccountId ?? '';
    let group = groups.get(owner);
    if (group === undefined) {
      group = new Map();
      groups.set(owner, group);
    }
    group.set(route.provider, route);
  }
  return ShardedMap.from(groups);
}

/** A key with the sub-account and workspace it belongs to. */
export interface KeyChain {
  readonly key: CompiledKey;
  /** The sub-account's effective settings: its own, with the unoverridden ones from its plan. */
  readonly subAccount: Readonly<SubAccountPolicy>;
  readonly workspace: Readonly<WorkspacePolicy>;
  /** The plan the sub-account is on, if any (its markup replaces the workspace's). */
  readonly plan?: Readonly<PlanPolicy>;
}

/** Effective settings per (sub-account entity, plan entity): entities are immutable and replaced
 * whole by deltas, so identity is a safe cache key and a plan edit invalidates naturally. */
const effectiveCache = new WeakMap<
  Readonly<SubAccountPolicy>,
  { plan: Readonly<PlanPolicy>; effective: Readonly<SubAccountPolicy> }
>();

/** The sub-account with every setting it does not override read from `plan`. */
export function effectiveSubAccount(
  subAccount: Readonly<SubAccountPolicy>,
  plan: Readonly<PlanPolicy>,
): Readonly<SubAccountPolicy> {
  const cached = effectiveCache.get(subAccount);
  if (cached !== undefined && cached.plan === plan) return cached.effective;
  const own = new Set(subAccount.overrides ?? []);
  const effective: Record<string, unknown> = { ...subAccount };
  for (const field of INHERITABLE_FIELDS) {
    if (!own.has(field)) effective[field] = plan[field];
  }
  const result = effective as unknown as SubAccountPolicy;
  effectiveCache.set(subAccount, { plan, effective: result });
  return result;
}

/**
 * The key with this hash and its ancestors. Undefined when the key is unknown — or when its
 * sub-account or workspace is missing (possible only after a delta removed them): such a key fails
 * closed, as if it did not exist.
 */
export function lookupKey(policy: CompiledPolicy, keyHash: string): KeyChain | undefined {
  const key = policy.keysByHash.get(keyHash);
  if (key === undefined) return undefined;
  const own = policy.subAccounts.get(key.subAccountId);
  if (own === undefined) return undefined;
  const workspace = policy.workspaces.get(own.workspaceId);
  if (workspace === undefined) return undefined;
  if (own.planId === undefined) return { key, subAccount: own, workspace };
  // A plan missing from the policy (only possible after a faulty delta) fails closed.
  const plan = policy.plans.get(own.planId);
  if (plan === undefined) return undefined;
  return { key, subAccount: effectiveSubAccount(own, plan), workspace, plan };
}

/** The budget on `tag` in this workspace, if one is set. */
export function tagBudgetFor(
  policy: CompiledPolicy,
  workspaceId: string,
  tag: string,
): Readonly<TagBudgetPolicy> | undefined {
  return policy.tagBudgetsByTag.get(pairKey(workspaceId, tag));
}

/** The workspace's override for `model`, else the catalogue price; undefined = no known price. */
export function priceFor(
  policy: CompiledPolicy,
  workspaceId: string,
  model: string,
): ResolvedPrice | undefined {
  const override = policy.prices.get(workspaceId)?.get(model);
  if (override !== undefined) return rates(model, 'workspace', override);
  const base = policy.basePrices?.(model);
  return base === undefined ? undefined : rates(model, 'base', base);
}

// Copy the four rates only: the source objects carry other fields (ids, catalogue metadata).
function rates(model: string, source: ResolvedPrice['source'], p: PriceRates): ResolvedPrice {
  return {
    model,
    source,
    inputPerMTok: p.inputPerMTok,
    outputPerMTok: p.outputPerMTok,
    cachedInputPerMTok: p.cachedInputPerMTok,
    cacheWritePerMTok: p.cacheWritePerMTok,
  };
}

const NO_ENTRIES: ReadonlyMap<string, never> = new Map<string, never>();

/** The workspace's price overrides by model (for listing its own models). */
export function workspacePrices(
  policy: CompiledPolicy,
  workspaceId: string,
): ReadonlyMap<string, Readonly<PricePolicy>> {
  return policy.prices.get(workspaceId) ?? NO_ENTRIES;
}

/** The sub-account's own BYOK route for `provider`; undefined = the workspace's or the platform's. */
export function subAccountRouteFor(
  policy: CompiledPolicy,
  subAccountId: string,
  provider: string,
): Readonly<ProviderRoutePolicy> | undefined {
  return policy.subAccountRoutes.get(subAccountId)?.get(provider);
}

/** The workspace's BYOK route for `provider`; undefined = use the platform credentials. */
export function providerRouteFor(
  policy: CompiledPolicy,
  workspaceId: string,
  provider: string,
): Readonly<ProviderRoutePolicy> | undefined {
  return policy.providerRoutes.get(workspaceId)?.get(provider);
}
