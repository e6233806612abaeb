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
 * whole entities). Null when the change cannot be expressed from what is left in the books (a
 * deleted price or provider key, whose identity died with its row): the caller publishes a full
 * snapshot instead.
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
      return p === null ? null : body({ prices: [toPrice(p)] });
    }
    case 'provider_key': {
      const r = await prisma.providerCredential.findUnique({ where: { id: change.id } });
      if (r === null) return null;
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
