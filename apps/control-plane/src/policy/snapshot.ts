import type { PrismaClient } from '@tollgate/db';
import type {
  InheritableField,
  KeyPolicy,
  PlanPolicy,
  PolicySnapshotBody,
  PricePolicy,
  ProviderRoutePolicy,
  SubAccountPolicy,
  TagBudgetPolicy,
  WorkspacePolicy,
} from '@tollgate/policy';
import { INHERITABLE_FIELDS } from '@tollgate/policy';
import { overrideCachedInputPerMTok, overrideCacheWritePerMTok } from '../services/prices.ts';

/**
 * Builds the full policy snapshot from the books (SPEC §1: the data plane never reads the
 * database; this is everything it needs to judge a request). Deleted sub-accounts and revoked keys
 * stay in, so their keys answer 401 rather than vanish. Money columns are BigInt micro-USD; the wire
 * carries safe-integer numbers, and a value beyond that range throws (a cap of $9 billion is a bug,
 * not a policy to publish).
 */

/** The read side of Prisma the builder needs: the client itself or a transaction client. */
export type SnapshotReader = Pick<
  PrismaClient,
  | 'workspace'
  | 'subAccount'
  | 'subAccountKey'
  | 'tagBudget'
  | 'modelPrice'
  | 'providerCredential'
  | 'plan'
>;

export function micros(value: bigint, what: string): number {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`${what} = ${value} is outside 0..MAX_SAFE_INTEGER micro-USD`);
  }
  return Number(value);
}

function microsOrNull(value: bigint | null, what: string): number | null {
  return value === null ? null : micros(value, what);
}

/** `markupBp` stores hundredths of a percent (12.5 % = 1250); the wire carries the percent. */
function markupPercent(markupBp: number): number {
  return Number((markupBp / 100).toFixed(2));
}

type Row<K extends keyof SnapshotReader> = NonNullable<
  Awaited<ReturnType<SnapshotReader[K]['findFirst']>>
>;

export function toWorkspace(w: Row<'workspace'>): WorkspacePolicy {
  return {
    id: w.id,
    markupPercent: markupPercent(w.markupBp),
    spendCapMicros: microsOrNull(w.spendCapMicros, `workspace ${w.id} spendCapMicros`),
    budgetPeriod: w.budgetPeriod,
    byokWaivesMarkup: w.byokWaivesMarkup,
  };
}

export function toSubAccount(a: Row<'subAccount'>): SubAccountPolicy {
  return {
    id: a.id,
    workspaceId: a.workspaceId,
    status: a.status,
    spendCapMicros: microsOrNull(a.spendCapMicros, `sub-account ${a.id} spendCapMicros`),
    budgetPeriod: a.budgetPeriod,
    rateLimitRpm: a.rateLimitRpm,
    rateLimitRpd: a.rateLimitRpd,
    rateLimitTpm: a.rateLimitTpm,
    maxConcurrent: a.maxConcurrent,
    allowedModels: [...a.allowedModels],
    defaultTag: a.defaultTag,
    // Written only when set, so other sub-accounts' entries (and checksums) are unchanged.
    ...(a.prepaid ? { prepaid: true } : {}),
    // Written only when set, so sub-accounts without plans or fallbacks (and their checksums) are
    // the same as before the fields existed. A deleted sub-account keeps no plan (it is detached).
    ...(a.fallbackModel !== null ? { fallbackModel: a.fallbackModel } : {}),
    ...(a.planId !== null
      ? {
          planId: a.planId,
          overrides: INHERITABLE_FIELDS.filter((f) =>
            a.overrides.includes(f),
          ) as InheritableField[],
        }
      : {}),
  };
}

export function toPlan(p: Row<'plan'>): PlanPolicy {
  return {
    id: p.id,
    workspaceId: p.workspaceId,
    spendCapMicros: microsOrNull(p.spendCapMicros, `plan ${p.id} spendCapMicros`),
    budgetPeriod: p.budgetPeriod,
    rateLimitRpm: p.rateLimitRpm,
    rateLimitRpd: p.rateLimitRpd,
    rateLimitTpm: p.rateLimitTpm,
    maxConcurrent: p.maxConcurrent,
    allowedModels: [...p.allowedModels],
    defaultTag: p.defaultTag,
    markupPercent: p.markupBp === null ? null : markupPercent(p.markupBp),
    fallbackModel: p.fallbackModel,
  };
}

export function toKey(k: Row<'subAccountKey'>): KeyPolicy {
  return {
    id: k.id,
    subAccountId: k.subAccountId,
    hash: k.hash,
    expiresAt: k.expiresAt === null ? null : k.expiresAt.toISOString(),
    revoked: k.revokedAt !== null,
  };
}

export function toTagBudget(b: Row<'tagBudget'>): TagBudgetPolicy {
  return {
    id: b.id,
    workspaceId: b.workspaceId,
    tag: b.tag,
    capMicros: micros(b.capMicros, `tag budget ${b.id} capMicros`),
    budgetPeriod: b.budgetPeriod,
  };
}

export function toPrice(p: Row<'modelPrice'>): PricePolicy {
  const input = micros(p.inputPerMTokMicros, `price ${p.id} input`);
  // An omitted cached-input or cache-write price is the same one GET /v1/prices answers (see
  // overrideCachedInputPerMTok, overrideCacheWritePerMTok).
  return {
    workspaceId: p.workspaceId,
    model: p.model,
    inputPerMTok: input,
    outputPerMTok: micros(p.outputPerMTokMicros, `price ${p.id} output`),
    cachedInputPerMTok: overrideCachedInputPerMTok(
      p.model,
      input,
      p.cachedPerMTokMicros === null ? null : micros(p.cachedPerMTokMicros, `price ${p.id} cached`),
    ),
    cacheWritePerMTok: overrideCacheWritePerMTok(
      p.model,
      input,
      p.cacheWritePerMTokMicros === null
        ? null
        : micros(p.cacheWritePerMTokMicros, `price ${p.id} cache write`),
    ),
  };
}

export function toRoute(r: Row<'providerCredential'>): ProviderRoutePolicy {
  return {
    workspaceId: r.workspaceId,
    provider: r.provider,
    baseUrl: r.baseUrl,
    // Only a non-default flavour is written, so routes of plain OpenAI-compatible keys (and their
    // checksums) are the same as before the fields existed.
    ...(r.kind === 'azure' ? { kind: 'azure' as const } : {}),
    ...(r.apiVersion !== null ? { apiVersion: r.apiVersion } : {}),
    sealedApiKey: r.sealedKey,
    ...(r.subAccountId !== '' ? { subAccountId: r.subAccountId } : {}),
  };
}

/** Rows read per query of a full snapshot: each page is turned into objects, and those into policy
 * entities, between two reads, so a policy of 100k sub-accounts is never materialised in one piece
 * on the event loop. */
const PAGE = 1_000;

/** Every row of a table in id order as `map` makes it, a page at a time (`read` answers the page
 * after `after`). */
async function readAll<R extends { id: string }, T>(
  read: (after: string | undefined, take: number) => Promise<R[]>,
  map: (row: R) => T,
  cancelled: () => boolean,
): Promise<T[]> {
  const out: T[] = [];
  for (let after: string | undefined; ; ) {
    if (cancelled()) throw new SnapshotCancelled();
    const page = await read(after, PAGE);
    for (const row of page) out.push(map(row));
    if (page.length < PAGE) return out;
    after = page[page.length - 1]!.id;
  }
}

/** Thrown by buildSnapshot when `cancelled` answers true between two reads. */
export class SnapshotCancelled extends Error {
  override readonly name = 'SnapshotCancelled';
}

const pageOf = (after: string | undefined, take: number) => ({
  where: after === undefined ? {} : { id: { gt: after } },
  orderBy: { id: 'asc' as const },
  take,
});

export async function buildSnapshot(
  prisma: SnapshotReader,
  revision: number,
  now: Date = new Date(),
  /** Asked between reads; true stops the build (SnapshotCancelled): a control plane stopping does
   * not wait seconds for a base it will not store. */
  cancelled: () => boolean = () => false,
): Promise<PolicySnapshotBody> {
  const all = <R extends { id: string }, T>(
    read: (after: string | undefined, take: number) => Promise<R[]>,
    map: (row: R) => T,
  ) => readAll(read, map, cancelled);
  const workspaces = await all((a, n) => prisma.workspace.findMany(pageOf(a, n)), toWorkspace);
  const subAccounts = await all((a, n) => prisma.subAccount.findMany(pageOf(a, n)), toSubAccount);
  const keys = await all((a, n) => prisma.subAccountKey.findMany(pageOf(a, n)), toKey);
  const tagBudgets = await all((a, n) => prisma.tagBudget.findMany(pageOf(a, n)), toTagBudget);
  const prices = await all((a, n) => prisma.modelPrice.findMany(pageOf(a, n)), toPrice);
  const routes = await all(
    (a, n) => prisma.providerCredential.findMany(pageOf(a, n)),
    (r) => r,
  );
  const plans = await all((a, n) => prisma.plan.findMany(pageOf(a, n)), toPlan);
  return {
    version: 1,
    revision,
    generatedAt: now.toISOString(),
    workspaces,
    subAccounts,
    keys,
    tagBudgets,
    prices,
    providerRoutes: routes.filter((r) => r.subAccountId === '').map(toRoute),
    // Written only when non-empty: snapshots without plans or sub-account keys stay as they were.
    ...(plans.length > 0 ? { plans } : {}),
    ...(routes.some((r) => r.subAccountId !== '')
      ? { subAccountRoutes: routes.filter((r) => r.subAccountId !== '').map(toRoute) }
      : {}),
  };
}
