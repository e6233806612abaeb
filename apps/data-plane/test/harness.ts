import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { type Bus, createBus, type UsageConsumer } from '@tollgate/bus';
import {
  encodeSnapshot,
  type PolicySnapshotBody,
  type ProviderRoutePolicy,
  type SubAccountPolicy,
  type TagBudgetPolicy,
} from '@tollgate/policy';
import { decodeUsageBatch, type UsageEvent } from '@tollgate/usage';
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { createDataPlane, type DataPlane, type UpstreamConfig } from '../src/index.ts';
import { type FakeUpstream, type FakeUpstreamOptions, startFakeUpstream } from './fake-upstream.ts';
import { deletePrefix, deleteWorkspaceKeys } from './wait.ts';

/** A test tenant: one workspace, sub-accounts built from overrides, one key each. */
export const WS = 'ws_test';
/** 1 micro-USD per token in and out: costs in tests are plain token counts. */
export const CHEAP = 'openai/test-model';

export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export interface Tenant {
  key: string;
  subAccountId: string;
}

export function subAccount(id: string, over: Partial<SubAccountPolicy> = {}): SubAccountPolicy {
  return {
    id,
    workspaceId: WS,
    status: 'active',
    spendCapMicros: null,
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

/** A snapshot as the control plane stores it (for tests of other packages publishing one). */
export const encodedSnapshot = (body: PolicySnapshotBody): string => encodeSnapshot(body);

export function snapshot(
  revision: number,
  subs: SubAccountPolicy[],
  opts: {
    tagBudgets?: TagBudgetPolicy[];
    markupPercent?: number;
    revokedKeys?: string[];
    routes?: ProviderRoutePolicy[];
    /** More workspace price overrides (a custom provider's models). */
    prices?: PolicySnapshotBody['prices'];
    /** The workspace's own cap (default none). */
    workspaceCapMicros?: number | null;
  } = {},
): { body: PolicySnapshotBody; keys: Record<string, string> } {
  const keys: Record<string, string> = {};
  for (const s of subs) keys[s.id] = `sk-tg-${s.id}-${'x'.repeat(32)}`;
  const body: PolicySnapshotBody = {
    version: 1,
    revision,
    generatedAt: new Date().toISOString(),
    workspaces: [
      {
        id: WS,
        markupPercent: opts.markupPercent ?? 0,
        spendCapMicros: opts.workspaceCapMicros ?? null,
        budgetPeriod: 'monthly',
        byokWaivesMarkup: true,
      },
    ],
    subAccounts: subs,
    keys: subs.map((s) => ({
      id: `key_${s.id}`,
      subAccountId: s.id,
      hash: sha256(keys[s.id]!),
      expiresAt: null,
      revoked: opts.revokedKeys?.includes(s.id) ?? false,
    })),
    tagBudgets: opts.tagBudgets ?? [],
    prices: [
      {
        workspaceId: WS,
        model: CHEAP,
        inputPerMTok: 1_000_000,
        outputPerMTok: 1_000_000,
        cachedInputPerMTok: 1_000_000,
        cacheWritePerMTok: 1_000_000,
      },
      ...(opts.prices ?? []),
    ],
    providerRoutes: opts.routes ?? [],
  };
  return { body, keys };
}

/** A workspace price override of `model` (µ$ per MTok; cached input and cache writes at the input price). */
export function priceOverride(
  model: string,
  inputPerMTok = 2_000_000,
  outputPerMTok = 3_000_000,
): PolicySnapshotBody['prices'][number] {
  return {
    workspaceId: WS,
    model,
    inputPerMTok,
    outputPerMTok,
    cachedInputPerMTok: inputPerMTok,
    cacheWritePerMTok: inputPerMTok,
  };
}

export interface Harness {
  bus: Bus;
  upstream: FakeUpstream;
  planes: DataPlane[];
  urls: string[];
  keys: Record<string, string>;
  client(subId: string, plane?: number): OpenAI;
  /** Publishes a snapshot (setLatest + announce) and waits until every plane holds it. */
  publish(body: PolicySnapshotBody): Promise<void>;
  /** Every usage event emitted so far (flushes the planes first). */
  events(): Promise<UsageEvent[]>;
  /** The usage event of one request, waiting for it to be ingested (up to 10 s). */
  eventFor(requestId: string | null): Promise<UsageEvent>;
  /** Redis only: deletes every key of the workspace, as a flush would (counters lost). */
  loseCounters(workspaceId: string): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  subs: SubAccountPolicy[];
  tagBudgets?: TagBudgetPolicy[];
  markupPercent?: number;
  upstream?: FakeUpstreamOptions;
  planes?: number;
  redisUrl?: string;
  upstreamTimeoutMs?: number;
  /** Reservation TTL of every plane (default: the data plane's, 10 min). */
  reservationTtlMs?: number;
  /** Set false: reservations are not renewed while their request runs. */
  keepHolds?: boolean;
  routes?: ProviderRoutePolicy[];
  secretKey?: Buffer;
  controlPlaneUrl?: string;
  prices?: PolicySnapshotBody['prices'];
  /** More platform upstreams by provider name (e.g. a fake Anthropic). */
  upstreams?: Record<string, UpstreamConfig>;
  /** TOLLGATE_REDIS_DOWN of every plane (default fail-closed). */
  limiterDown?: 'fail-closed' | 'fail-open';
  /** How long a failing settle is retried (default the data plane's, 60 s). */
  settleRetryMs?: number;
  /** The data plane's maxJsonAnswerBytes (default 64 MiB). */
  maxJsonAnswerBytes?: number;
  /** TOLLGATE_ALLOW_PRIVATE_UPSTREAMS of every plane (default true: the fake upstreams of BYOK
   * routes listen on 127.0.0.1). */
  allowPrivateUpstreams?: boolean;
  /** How long a stop lets requests in flight finish (default the data plane's, 25 s). */
  drainTimeoutMs?: number;
}

export async function startHarness(o: HarnessOptions): Promise<Harness> {
  const prefix = `dp-${randomBytes(6).toString('hex')}`;
  const buses: Bus[] = [];
  const newBus = () => {
    const b = createBus({ redisUrl: o.redisUrl, prefix });
    buses.push(b);
    return b;
  };
  const bus = newBus();
  const upstream = await startFakeUpstream(o.upstream);
  const { body, keys } = snapshot(1, o.subs, o);
  await bus.policy.setLatest(encodeSnapshot(body), body.revision);
  const planes: DataPlane[] = [];
  const urls: string[] = [];
  for (let i = 0; i < (o.planes ?? 1); i++) {
    // In-process mode shares one bus; on Redis each plane has its own connections, as in production.
    const planeBus = i === 0 || !o.redisUrl ? bus : newBus();
    const plane = createDataPlane({
      bus: planeBus,
      upstreams: {
        openai: { baseUrl: upstream.url, apiKey: 'sk-platform-upstream' },
        ...o.upstreams,
      },
      upstreamTimeoutMs: o.upstreamTimeoutMs,
      reservationTtlMs: o.reservationTtlMs,
      keepHolds: o.keepHolds,
      secretKey: o.secretKey,
      controlPlaneUrl: o.controlPlaneUrl,
      limiterDown: o.limiterDown,
      settleRetryMs: o.settleRetryMs,
      maxJsonAnswerBytes: o.maxJsonAnswerBytes,
      allowPrivateUpstreams: o.allowPrivateUpstreams ?? true,
      drainTimeoutMs: o.drainTimeoutMs,
      usageBatch: { flushMs: 5 },
    });
    const port = await plane.start(0);
    planes.push(plane);
    urls.push(`http://127.0.0.1:${port}`);
  }
  const { collected, consumer } = await collectUsage(bus);
  return {
    bus,
    upstream,
    planes,
    urls,
    keys,
    client: (subId, plane = 0) =>
      new OpenAI({ apiKey: keys[subId]!, baseURL: `${urls[plane]}/v1`, maxRetries: 0 }),
    async publish(next) {
      const text = encodeSnapshot(next);
      await bus.policy.setLatest(text, next.revision);
      await bus.policy.publish(next.revision, text);
      const deadline = Date.now() + 2_000;
      while (planes.some((p) => p.policyRevision() < next.revision)) {
        if (Date.now() > deadline) throw new Error('policy did not propagate');
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async events() {
      for (const p of planes) await p.flushUsage();
      // Ingested once the count holds still for a few consumer reads.
      let seen = -1;
      const deadline = Date.now() + 3_000;
      while (seen !== collected.length && Date.now() < deadline) {
        seen = collected.length;
        await new Promise((r) => setTimeout(r, 150));
      }
      return [...collected];
    },
    async eventFor(requestId) {
      const deadline = Date.now() + 10_000;
      for (;;) {
        for (const p of planes) await p.flushUsage();
        const found = collected.find((e) => e.requestId === requestId);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no usage event for ${requestId}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async loseCounters(workspaceId) {
      if (!o.redisUrl) throw new Error('loseCounters needs Redis');
      const client = new Redis(o.redisUrl);
      try {
        await deleteWorkspaceKeys(client, prefix, workspaceId);
      } finally {
        client.disconnect();
      }
    },
    async close() {
      for (const p of planes) await p.stop();
      await consumer.stop();
      await upstream.close();
      for (const b of buses) await b.close();
      if (o.redisUrl) await deleteRedisKeys(o.redisUrl, prefix);
    },
  };
}

/** Removes every key of a test prefix, so runs leave nothing behind in the shared Redis. */
async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  // A test may have stopped this Redis already (private redis-server): the failed delete is
  // reported by the command; an unhandled 'error' event would only add noise.
  client.on('error', () => {});
  try {
    await deletePrefix(client, prefix);
  } finally {
    client.disconnect();
  }
}

/** Seals like the control plane (AES-256-GCM, `v1.<iv>.<tag>.<ct>`), for BYOK snapshots. */
export function sealForTest(secretKey: Buffer, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', secretKey, iv);
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv, cipher.getAuthTag(), ct]
    .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
    .join('.');
}

/** Every usage event appended to `bus`'s stream from now on, as a test consumer group reads them. */
export async function collectUsage(
  bus: Bus,
): Promise<{ collected: UsageEvent[]; consumer: UsageConsumer }> {
  const collected: UsageEvent[] = [];
  const consumer = bus.usage.createConsumer({
    group: 'test',
    consumer: 'c1',
    blockMs: 50,
    handler: async (entries) => {
      for (const e of entries) collected.push(...decodeUsageBatch(e.data).events);
    },
  });
  await consumer.start();
  return { collected, consumer };
}
