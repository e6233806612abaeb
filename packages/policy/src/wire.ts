import { z } from 'zod';
import {
  ID,
  ISO_TIME,
  KeyPolicySchema,
  MODEL,
  PlanPolicySchema,
  PROVIDER,
  PricePolicySchema,
  ProviderRoutePolicySchema,
  SubAccountPolicySchema,
  TagBudgetPolicySchema,
  WorkspacePolicySchema,
} from './entities.ts';

/**
 * The two policy messages on the wire: a full snapshot (stored as "latest", read on start, on a gap
 * and on a slow timer) and a delta (announced on pub/sub for each revision). Both carry `version`,
 * which a consumer must recognise or refuse, and a `checksum` over everything else (checksum.ts).
 */

/** The only wire version this package reads or writes. */
export const POLICY_WIRE_VERSION = 1;

/** Policy revisions: monotonic per installation, bumped by every committed admin change. */
const REVISION = z.int().min(0);

export const PolicySnapshotSchema = z.object({
  /** Wire version; consumers refuse any other value and keep their last good policy. */
  version: z.literal(POLICY_WIRE_VERSION),
  /** Revision this snapshot reflects; deltas chain from it (`baseRevision`). */
  revision: REVISION,
  /** When the control plane built the snapshot (diagnostics only; never used to judge requests). */
  generatedAt: ISO_TIME,
  /** sha-256 hex of the canonical JSON of every other field (computeChecksum). */
  checksum: z.string().regex(/^[0-9a-f]{64}$/),
  /** Every workspace. */
  workspaces: z.array(WorkspacePolicySchema),
  /** Every sub-account, deleted ones included (their keys must answer 401, not vanish). */
  subAccounts: z.array(SubAccountPolicySchema),
  /** Every sub-account key, revoked and expired ones included. */
  keys: z.array(KeyPolicySchema),
  /** Every tag budget. */
  tagBudgets: z.array(TagBudgetPolicySchema),
  /** Workspace price overrides only; the built-in catalogue is not shipped in snapshots. */
  prices: z.array(PricePolicySchema),
  /** BYOK provider credentials per workspace. */
  providerRoutes: z.array(ProviderRoutePolicySchema),
  /** Plans sub-accounts inherit settings from (additive within version 1: absent = none). */
  plans: z.array(PlanPolicySchema).optional(),
  /** BYOK provider credentials of single sub-accounts, each with `subAccountId`; they take
   * precedence over the workspace's route. A separate list (additive within version 1), so a data
   * plane that predates it ignores these keys instead of using one for the whole workspace. */
  subAccountRoutes: z.array(ProviderRoutePolicySchema).optional(),
});
export type PolicySnapshot = z.infer<typeof PolicySnapshotSchema>;
/** A snapshot before its checksum is computed: what the publisher builds. */
export type PolicySnapshotBody = Omit<PolicySnapshot, 'checksum'>;

/** Identity of a price override: one per (workspace, model). */
const PriceRefSchema = z.object({
  /** Workspace of the override. */
  workspaceId: ID,
  /** `provider/model` of the override. */
  model: MODEL,
});

/** Identity of a provider route: one per (workspace, provider). */
const RouteRefSchema = z.object({
  /** Workspace of the route. */
  workspaceId: ID,
  /** Provider of the route. */
  provider: PROVIDER,
});

/** Identity of a sub-account's provider route: one per (sub-account, provider). */
const SubAccountRouteRefSchema = z.object({
  /** Sub-account of the route. */
  subAccountId: ID,
  /** Provider of the route. */
  provider: PROVIDER,
});

export const PolicyDeltaSchema = z
  .object({
    /** Wire version; consumers refuse any other value. */
    version: z.literal(POLICY_WIRE_VERSION),
    /** Revision after applying this delta; always `baseRevision + 1`. */
    revision: REVISION,
    /** Revision the delta applies to. A consumer at any other revision has missed a message (or
     * is ahead) and must re-read the full snapshot instead of applying this. */
    baseRevision: REVISION,
    /** sha-256 hex of the canonical JSON of every other field of this delta. */
    checksum: z.string().regex(/^[0-9a-f]{64}$/),
    /** Entities created or changed in this revision, whole (never partial objects). */
    upserts: z.object({
      /** Workspaces created or changed. */
      workspaces: z.array(WorkspacePolicySchema).optional(),
      /** Sub-accounts created or changed (suspension and deletion are status changes). */
      subAccounts: z.array(SubAccountPolicySchema).optional(),
      /** Keys created or changed (revocation is `revoked: true`). */
      keys: z.array(KeyPolicySchema).optional(),
      /** Tag budgets created or changed. */
      tagBudgets: z.array(TagBudgetPolicySchema).optional(),
      /** Price overrides set. */
      prices: z.array(PricePolicySchema).optional(),
      /** BYOK credentials set or rotated. */
      providerRoutes: z.array(ProviderRoutePolicySchema).optional(),
      /** Plans created or changed. */
      plans: z.array(PlanPolicySchema).optional(),
      /** Sub-account BYOK credentials set or rotated (each with `subAccountId`). */
      subAccountRoutes: z.array(ProviderRoutePolicySchema).optional(),
    }),
    /** Entities removed in this revision, by identity. */
    deletes: z.object({
      /** Workspace ids removed (their sub-accounts and keys then fail closed as unknown). */
      workspaces: z.array(ID).optional(),
      /** Sub-account ids removed outright (normal deletion is a status change instead). */
      subAccounts: z.array(ID).optional(),
      /** Key ids removed. */
      keys: z.array(ID).optional(),
      /** Tag budget ids removed. */
      tagBudgets: z.array(ID).optional(),
      /** Price overrides removed: the catalogue price applies again. */
      prices: z.array(PriceRefSchema).optional(),
      /** BYOK credentials removed: platform credentials apply again. */
      providerRoutes: z.array(RouteRefSchema).optional(),
      /** Plan ids removed (no sub-account refers to them any more). */
      plans: z.array(ID).optional(),
      /** Sub-account BYOK credentials removed: the workspace's (or platform) credentials apply. */
      subAccountRoutes: z.array(SubAccountRouteRefSchema).optional(),
    }),
  })
  .refine((d) => d.revision === d.baseRevision + 1, {
    message: 'revision must be baseRevision + 1',
    path: ['revision'],
  });
export type PolicyDelta = z.infer<typeof PolicyDeltaSchema>;
/** A delta before its checksum is computed: what the publisher builds. */
export type PolicyDeltaBody = Omit<PolicyDelta, 'checksum'>;
