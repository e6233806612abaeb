import { createHash } from 'node:crypto';
import type {
  KeyPolicy,
  PolicyDeltaBody,
  PolicySnapshotBody,
  SubAccountPolicy,
  WorkspacePolicy,
} from '../src/index.ts';

/** Test builders: small valid entities with overridable fields. */

export const hashOf = (plaintext: string): string =>
  createHash('sha256').update(plaintext).digest('hex');

export function workspace(over: Partial<WorkspacePolicy> = {}): WorkspacePolicy {
  return {
    id: 'ws_1',
    markupPercent: 0,
    spendCapMicros: null,
    budgetPeriod: 'monthly',
    byokWaivesMarkup: false,
    ...over,
  };
}

export function subAccount(over: Partial<SubAccountPolicy> = {}): SubAccountPolicy {
  return {
    id: 'sa_1',
    workspaceId: 'ws_1',
    status: 'active',
    spendCapMicros: 5_000_000,
    budgetPeriod: 'monthly',
    rateLimitRpm: null,
    rateLimitRpd: null,
    rateLimitTpm: null,
    maxConcurrent: null,
    allowedModels: [],
    defaultTag: null,
    ...over,
  };
}

export function key(over: Partial<KeyPolicy> = {}): KeyPolicy {
  return {
    id: 'key_1',
    subAccountId: 'sa_1',
    hash: hashOf('sk-tg-one'),
    expiresAt: null,
    revoked: false,
    ...over,
  };
}

export function snapshot(over: Partial<PolicySnapshotBody> = {}): PolicySnapshotBody {
  return {
    version: 1,
    revision: 7,
    generatedAt: '2026-11-23T10:00:00.000Z',
    workspaces: [workspace()],
    subAccounts: [subAccount()],
    keys: [key()],
    tagBudgets: [
      {
        id: 'bud_1',
        workspaceId: 'ws_1',
        tag: 'feature-x',
        capMicros: 1_000_000,
        budgetPeriod: 'daily',
      },
    ],
    prices: [
      {
        workspaceId: 'ws_1',
        model: 'self/llama',
        inputPerMTok: 100_000,
        outputPerMTok: 200_000,
        cachedInputPerMTok: 50_000,
        cacheWritePerMTok: 100_000,
      },
    ],
    providerRoutes: [
      { workspaceId: 'ws_1', provider: 'openai', baseUrl: null, sealedApiKey: 'sealed:abc' },
    ],
    ...over,
  };
}

export function delta(
  baseRevision: number,
  over: Partial<Pick<PolicyDeltaBody, 'upserts' | 'deletes'>> = {},
): PolicyDeltaBody {
  return {
    version: 1,
    baseRevision,
    revision: baseRevision + 1,
    upserts: {},
    deletes: {},
    ...over,
  };
}

/** A catalogue with one model, as @tollgate/pricing would provide. */
export const basePrices = (model: string) =>
  model === 'openai/gpt-5.4-mini'
    ? {
        inputPerMTok: 250_000,
        outputPerMTok: 2_000_000,
        cachedInputPerMTok: 25_000,
        cacheWritePerMTok: 250_000,
      }
    : undefined;

/** Runs `work`, counting the turns of the event loop other work got meanwhile (a chain of
 * setImmediate callbacks): more than a few means `work` yielded, not only finished. */
export async function turnsDuring<T>(work: () => Promise<T>): Promise<{ value: T; turns: number }> {
  let turns = 0;
  let running = true;
  const tick = () => {
    if (!running) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  try {
    return { value: await work(), turns };
  } finally {
    running = false;
  }
}
