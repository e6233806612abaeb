import type { PolicyDeltaBody } from '@tollgate/policy';
import type { PolicyChange } from '../services/context.ts';
import {
  type SnapshotReader,
  toKey,
  toPlan,
  toPrice,
  toRoute,
  toSubAccount,
  toTagBudget,
  toWorkspace,
} from './snapshot.ts';

/**
 * The delta announcing one committed change: the touched entity read whole from the books as they
 * are now (so a delta may already carry a later change of the same entity — harmless, upserts are
 * whole entities). A price or provider key deleted outright is named by the identity the change
 * carries (`removed`). Null when the change cannot be expressed (a row gone with no identity
 * given): the caller publishes a full snapshot instead.
 */
export async function buildDelta(
  prisma: SnapshotReader,
  change: PolicyChange,
  baseRevision: number,
): Promise<PolicyDeltaBody | null> {
  const body = (upserts: PolicyDeltaBody['upserts'], deletes: PolicyDeltaBody['deletes'] = {}) => ({
    version: 1 as const,
    revision: baseRevision + 1,
    baseRevision,
    upserts,
    deletes,
  });
  switch (change.kind) {
    case 'workspace': {
      const w = await prisma.workspace.findUnique({ where: { id: change.id } });
      return w === null
        ? body({}, { workspaces: [change.id] })
        : body({ workspaces: [toWorkspace(w)] });
    }
    case 'sub_account': {
      // Creation mints the first key in the same change; deletion revokes through the status.
      const sa = await prisma.subAccount.findUnique({ where: { id: change.id } });
      if (sa === null) return null;
      const keys = await prisma.subAccountKey.findMany({ where: { subAccountId: sa.id } });
      return body({ subAccounts: [toSubAccount(sa)], keys: keys.map(toKey) });
    }
    case 'key': {
      const k = await prisma.subAccountKey.findUnique({ where: { id: change.id } });
      return k === null ? body({}, { keys: [change.id] }) : body({ keys: [toKey(k)] });
    }
    case 'tag_budget': {
      const b = await prisma.tagBudget.findUnique({ where: { id: change.id } });
      return b === null
        ? body({}, { tagBudgets: [change.id] })
        : body({ tagBudgets: [toTagBudget(b)] });
    }
    case 'price': {
      const p = await prisma.modelPrice.findUnique({ where: { id: change.id } });
      if (p !== null) return body({ prices: [toPrice(p)] });
      const gone = change.removed?.kind === 'price' ? change.removed : null;
      return gone === null
        ? null
        : body({}, { prices: [{ workspaceId: change.workspaceId, model: gone.model }] });
    }
    case 'provider_key': {
      const r = await prisma.providerCredential.findUnique({ where: { id: change.id } });
      if (r === null) {
        const gone = change.removed?.kind === 'provider_key' ? change.removed : null;
        if (gone === null) return null;
        return gone.subAccountId === ''
          ? body(
              {},
              { providerRoutes: [{ workspaceId: change.workspaceId, provider: gone.provider }] },
            )
          : body(
              {},
              { subAccountRoutes: [{ subAccountId: gone.subAccountId, provider: gone.provider }] },
            );
      }
      return r.subAccountId === ''
        ? body({ providerRoutes: [toRoute(r)] })
        : body({ subAccountRoutes: [toRoute(r)] });
    }
    case 'plan': {
      // Deletion is refused while any sub-account refers to the plan, so removing it is safe.
      const p = await prisma.plan.findUnique({ where: { id: change.id } });
      return p === null ? body({}, { plans: [change.id] }) : body({ plans: [toPlan(p)] });
    }
    default:
      return null;
  }
}
