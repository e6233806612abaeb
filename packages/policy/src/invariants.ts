import type { PolicyDelta, PolicySnapshot } from './wire.ts';

/**
 * Cross-entity rules a schema cannot express. A snapshot breaking one is a publisher bug; refusing
 * it keeps the last good policy in force instead of enforcing a half-consistent one (a duplicate key
 * hash would make authentication depend on array order).
 */

/** The first identity that occurs twice, or undefined. */
function firstDuplicate(identities: Iterable<string>): string | undefined {
  const seen = new Set<string>();
  for (const identity of identities) {
    if (seen.has(identity)) return identity;
    seen.add(identity);
  }
  return undefined;
}

/** Composite identity of per-workspace entries; NUL cannot occur in ids, so no two pairs collide. */
export function pairKey(workspaceId: string, name: string): string {
  return `${workspaceId}\u0000${name}`;
}

/** The identities of a list, one at a time. */
function* each<T>(list: readonly T[] | undefined, identity: (entry: T) => string) {
  for (const entry of list ?? []) yield identity(entry);
}

/**
 * The snapshot's cross-entity rules, as a walk that pauses (yields) every `every` entities: run
 * whole by snapshotProblem, or with the event loop let in between by snapshotProblemInSlices. Its
 * result is a description of the first broken rule, or undefined. O(n).
 */
function* snapshotChecks(s: PolicySnapshot, every: number): Generator<void, string | undefined> {
  let steps = 0;
  const pause = () => ++steps % every === 0;
  const unique: [string, Iterable<string>][] = [
    ['workspace id', each(s.workspaces, (w) => w.id)],
    ['sub-account id', each(s.subAccounts, (a) => a.id)],
    ['key id', each(s.keys, (k) => k.id)],
    ['key hash', each(s.keys, (k) => k.hash)],
    ['tag budget id', each(s.tagBudgets, (b) => b.id)],
    ['tag budget (workspace, tag)', each(s.tagBudgets, (b) => pairKey(b.workspaceId, b.tag))],
    ['price (workspace, model)', each(s.prices, (p) => pairKey(p.workspaceId, p.model))],
    [
      'route (workspace, provider)',
      each(s.providerRoutes, (r) => pairKey(r.workspaceId, r.provider)),
    ],
    ['plan id', each(s.plans, (p) => p.id)],
    [
      'sub-account route (sub-account, provider)',
      each(s.subAccountRoutes, (r) => pairKey(r.subAccountId ?? '', r.provider)),
    ],
  ];
  for (const [what, identities] of unique) {
    const seen = new Set<string>();
    for (const identity of identities) {
      if (seen.has(identity)) {
        return `duplicate ${what}: ${JSON.stringify(identity.replace('\u0000', ' / '))}`;
      }
      seen.add(identity);
      if (pause()) yield;
    }
  }

  const workspaces = new Set(each(s.workspaces, (w) => w.id));
  const subAccounts = new Set<string>();
  const dangling = (what: string, id: string, ref: string) =>
    `${what} ${id} refers to unknown ${ref}`;
  for (const a of s.subAccounts) {
    if (!workspaces.has(a.workspaceId)) return dangling('sub-account', a.id, a.workspaceId);
    subAccounts.add(a.id);
    if (pause()) yield;
  }
  for (const k of s.keys) {
    if (!subAccounts.has(k.subAccountId)) return dangling('key', k.id, k.subAccountId);
    if (pause()) yield;
  }
  for (const b of s.tagBudgets) {
    if (!workspaces.has(b.workspaceId)) return dangling('tag budget', b.id, b.workspaceId);
  }
  for (const p of s.prices) {
    if (!workspaces.has(p.workspaceId)) return dangling('price', p.model, p.workspaceId);
  }
  for (const r of s.providerRoutes) {
    if (!workspaces.has(r.workspaceId)) return dangling('route', r.provider, r.workspaceId);
  }
  const plans = new Set<string>();
  for (const p of s.plans ?? []) {
    if (!workspaces.has(p.workspaceId)) return dangling('plan', p.id, p.workspaceId);
    plans.add(p.id);
  }
  for (const a of s.subAccounts) {
    if (a.planId !== undefined && !plans.has(a.planId))
      return dangling('sub-account', a.id, a.planId);
    if (pause()) yield;
  }
  for (const r of s.subAccountRoutes ?? []) {
    if (r.subAccountId === undefined) return `sub-account route ${r.provider} has no subAccountId`;
    if (!subAccounts.has(r.subAccountId)) return dangling('route', r.provider, r.subAccountId);
  }
  return undefined;
}

/** A description of the first broken rule, or undefined when the snapshot is consistent. O(n). */
export function snapshotProblem(s: PolicySnapshot): string | undefined {
  const walk = snapshotChecks(s, Number.POSITIVE_INFINITY);
  for (let step = walk.next(); ; step = walk.next()) if (step.done) return step.value;
}

/** snapshotProblem, letting the event loop run every `every` entities. */
export async function snapshotProblemInSlices(
  s: PolicySnapshot,
  every: number,
): Promise<string | undefined> {
  const walk = snapshotChecks(s, every);
  for (let step = walk.next(); ; step = walk.next()) {
    if (step.done) return step.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/**
 * A delta must name each entity at most once across its upserts and deletes, so that the order in
 * which applyDelta processes them cannot change the result. References are not checked: a delta
 * cannot see the whole policy, and a dangling reference fails closed at lookup (unknown key).
 */
export function deltaProblem(d: PolicyDelta): string | undefined {
  const { upserts: u, deletes: x } = d;
  const groups: [string, string[]][] = [
    ['workspace', [...ids(u.workspaces), ...(x.workspaces ?? [])]],
    ['sub-account', [...ids(u.subAccounts), ...(x.subAccounts ?? [])]],
    ['key', [...ids(u.keys), ...(x.keys ?? [])]],
    ['tag budget', [...ids(u.tagBudgets), ...(x.tagBudgets ?? [])]],
    [
      'price',
      [...(u.prices ?? []), ...(x.prices ?? [])].map((p) => pairKey(p.workspaceId, p.model)),
    ],
    [
      'route',
      [...(u.providerRoutes ?? []), ...(x.providerRoutes ?? [])].map((r) =>
        pairKey(r.workspaceId, r.provider),
      ),
    ],
    ['plan', [...ids(u.plans), ...(x.plans ?? [])]],
    [
      'sub-account route',
      [...(u.subAccountRoutes ?? []), ...(x.subAccountRoutes ?? [])].map((r) =>
        pairKey(r.subAccountId ?? '', r.provider),
      ),
    ],
  ];
  if ((u.subAccountRoutes ?? []).some((r) => r.subAccountId === undefined)) {
    return 'a sub-account route in the delta has no subAccountId';
  }
  for (const [what, identities] of groups) {
    const duplicate = firstDuplicate(identities);
    if (duplicate !== undefined) {
      return `${what} ${JSON.stringify(duplicate.replace('\u0000', ' / '))} appears twice in the delta`;
    }
  }
  return undefined;
}

function ids(list: readonly { id: string }[] | undefined): string[] {
  return (list ?? []).map((e) => e.id);
}
