import { decodeDelta } from './codec.ts';
import { type CompiledKey, type CompiledPolicy, compileKey } from './compile.ts';
import type { KeyPolicy, TagBudgetPolicy } from './entities.ts';
import { pairKey } from './invariants.ts';
import type { ShardedMap } from './sharded-map.ts';
import type { PolicyDelta } from './wire.ts';

/**
 * Incremental updates. Cost: each index a delta touches is copied shard by shard (sharded-map.ts),
 * so applying a delta of d entities to a policy of n is O(d · n / 256) — ~tens of microseconds for
 * a one-entity change at 100k sub-accounts — and every index the delta does not touch is shared
 * with the previous policy as is. The previous policy stays valid and unchanged, so requests judged
 * against it finish consistently while the holder swaps in the new one.
 */

export type ApplyDeltaResult =
  | { ok: true; policy: CompiledPolicy }
  | {
      ok: false;
      /** `gap`: the delta builds on a revision this policy is not at — a message was missed (or
       * the holder is behind); re-read the full snapshot. `stale`: the policy already reflects this
       * revision (a replay or an older message); ignore it. */
      reason: 'gap' | 'stale';
      /** Revision of the policy the delta was offered to. */
      revision: number;
      /** The delta's base revision. */
      baseRevision: number;
    };

/** Apply a decoded delta; the input policy is left unchanged. */
export function applyDelta(policy: CompiledPolicy, delta: PolicyDelta): ApplyDeltaResult {
  const mismatch = { revision: policy.revision, baseRevision: delta.baseRevision };
  if (delta.revision <= policy.revision) return { ok: false, reason: 'stale', ...mismatch };
  if (delta.baseRevision !== policy.revision) return { ok: false, reason: 'gap', ...mismatch };
  const { upserts: u, deletes: x } = delta;
  const keys = editKeys(policy, x.keys ?? [], u.keys ?? []);
  const budgets = editTagBudgets(policy, x.tagBudgets ?? [], u.tagBudgets ?? []);
  const next: CompiledPolicy = {
    ...policy,
    revision: delta.revision,
    workspaces: editById(policy.workspaces, x.workspaces, u.workspaces),
    subAccounts: editById(policy.subAccounts, x.subAccounts, u.subAccounts),
    keysById: keys.byId,
    keysByHash: keys.byHash,
    tagBudgetsById: budgets.byId,
    tagBudgetsByTag: budgets.byTag,
    prices: dropGroups(
      editGrouped(
        policy.prices,
        (x.prices ?? []).map((p) => [p.workspaceId, p.model]),
        (u.prices ?? []).map((p) => [p.workspaceId, p.model, p]),
      ),
      x.workspaces,
    ),
    providerRoutes: dropGroups(
      editGrouped(
        policy.providerRoutes,
        (x.providerRoutes ?? []).map((r) => [r.workspaceId, r.provider]),
        (u.providerRoutes ?? []).map((r) => [r.workspaceId, r.provider, r]),
      ),
      x.workspaces,
    ),
    plans: editById(policy.plans, x.plans, u.plans),
    subAccountRoutes: editGrouped(
      policy.subAccountRoutes,
      (x.subAccountRoutes ?? []).map((r) => [r.subAccountId, r.provider]),
      (u.subAccountRoutes ?? []).map((r) => [r.subAccountId ?? '', r.provider, r]),
    ),
  };
  return { ok: true, policy: next };
}

export interface CatchUpResult {
  /** The policy after the deltas that applied (the input itself when none did). */
  policy: CompiledPolicy;
  /** Deltas applied. */
  applied: number;
  /** Why the walk stopped before the end of the log: `gap`, a delta that does not chain from the
   * policy reached (a revision is missing from the log); `refused`, one that does not decode. */
  stopped?: { reason: 'gap' | 'refused'; revision: number; detail: string };
}

/**
 * Applies a log of encoded deltas (oldest first) to `policy`: those it already reflects are skipped,
 * the rest must chain one after the other. Stops at the first that does not; the policy reached so
 * far is still good (each delta is a consistent step).
 */
export function catchUp(policy: CompiledPolicy, log: readonly string[]): CatchUpResult {
  let current = policy;
  let applied = 0;
  for (const text of log) {
    const decoded = decodeDelta(text);
    if (!decoded.ok) {
      return {
        policy: current,
        applied,
        stopped: { reason: 'refused', revision: current.revision, detail: decoded.message },
      };
    }
    const step = applyDelta(current, decoded.value);
    if (step.ok) {
      current = step.policy;
      applied++;
    } else if (step.reason === 'gap') {
      return {
        policy: current,
        applied,
        stopped: {
          reason: 'gap',
          revision: current.revision,
          detail: `delta ${decoded.value.revision} builds on ${step.baseRevision}`,
        },
      };
    }
  }
  return { policy: current, applied };
}

function editById<T extends { id: string }>(
  map: ShardedMap<T>,
  deletes: readonly string[] | undefined,
  upserts: readonly T[] | undefined,
): ShardedMap<T> {
  if (!deletes?.length && !upserts?.length) return map;
  const editor = map.edit();
  for (const id of deletes ?? []) editor.delete(id);
  for (const entity of upserts ?? []) editor.set(entity.id, entity);
  return editor.done();
}

/**
 * Keys live in two indexes. A key's hash may change on upsert (never in practice, but the wire
 * allows it), so the old hash entry is removed first — and only if it still points to this key, so
 * that a key that took over the hash is never unindexed by its predecessor.
 */
function editKeys(
  policy: CompiledPolicy,
  deletes: readonly string[],
  upserts: readonly KeyPolicy[],
) {
  if (deletes.length === 0 && upserts.length === 0) {
    return { byId: policy.keysById, byHash: policy.keysByHash };
  }
  const byId = policy.keysById.edit();
  const byHash = policy.keysByHash.edit();
  const remove = (id: string) => {
    const old = byId.get(id);
    if (old === undefined) return;
    byId.delete(id);
    if (byHash.get(old.hash)?.id === id) byHash.delete(old.hash);
  };
  for (const id of deletes) remove(id);
  for (const key of upserts) {
    remove(key.id);
    const compiled: CompiledKey = compileKey(key);
    byId.set(key.id, compiled);
    byHash.set(key.hash, compiled);
  }
  return { byId: byId.done(), byHash: byHash.done() };
}

/** Same two-index discipline as keys: a budget's tag may change on upsert. */
function editTagBudgets(
  policy: CompiledPolicy,
  deletes: readonly string[],
  upserts: readonly TagBudgetPolicy[],
) {
  if (deletes.length === 0 && upserts.length === 0) {
    return { byId: policy.tagBudgetsById, byTag: policy.tagBudgetsByTag };
  }
  const byId = policy.tagBudgetsById.edit();
  const byTag = policy.tagBudgetsByTag.edit();
  const remove = (id: string) => {
    const old = byId.get(id);
    if (old === undefined) return;
    byId.delete(id);
    const tagKey = pairKey(old.workspaceId, old.tag);
    if (byTag.get(tagKey)?.id === id) byTag.delete(tagKey);
  };
  for (const id of deletes) remove(id);
  for (const budget of upserts) {
    remove(budget.id);
    byId.set(budget.id, budget);
    byTag.set(pairKey(budget.workspaceId, budget.tag), budget);
  }
  return { byId: byId.done(), byTag: byTag.done() };
}

/** Edit workspaceId → name → entry: each touched workspace's inner map is copied once. */
function editGrouped<T>(
  outer: ShardedMap<ReadonlyMap<string, T>>,
  deletes: readonly (readonly [string, string])[],
  upserts: readonly (readonly [string, string, T])[],
): ShardedMap<ReadonlyMap<string, T>> {
  if (deletes.length === 0 && upserts.length === 0) return outer;
  const drafts = new Map<string, Map<string, T>>();
  const draft = (workspaceId: string) => {
    let inner = drafts.get(workspaceId);
    if (inner === undefined) {
      inner = new Map(outer.get(workspaceId));
      drafts.set(workspaceId, inner);
    }
    return inner;
  };
  for (const [workspaceId, name] of deletes) draft(workspaceId).delete(name);
  for (const [workspaceId, name, entry] of upserts) draft(workspaceId).set(name, entry);
  const editor = outer.edit();
  for (const [workspaceId, inner] of drafts) {
    // An empty group is dropped so that a workspace's groups do not outlive their entries.
    if (inner.size === 0) editor.delete(workspaceId);
    else editor.set(workspaceId, inner);
  }
  return editor.done();
}

/**
 * A removed workspace takes its price overrides and BYOK routes with it, even when the delta does
 * not list them one by one: otherwise they would linger unseen and come back to life if a workspace
 * with the same id were ever published again.
 */
function dropGroups<T>(
  outer: ShardedMap<ReadonlyMap<string, T>>,
  workspaceIds: readonly string[] | undefined,
): ShardedMap<ReadonlyMap<string, T>> {
  if (!workspaceIds?.some((id) => outer.has(id))) return outer;
  const editor = outer.edit();
  for (const id of workspaceIds) editor.delete(id);
  return editor.done();
}
