import { type Bus, createBus } from '@tollgate/bus';
import { openTestDatabase, type TestDatabase } from '@tollgate/testkit';
import { Redis } from 'ioredis';
// The data plane does not depend on the control plane; the end-to-end specs run both, as
// `tollgate start` does, so they reach it by path rather than as a package dependency.
import {
  buildControlPlane,
  type ControlPlane,
  type CounterReconciler,
  createAuthenticator,
  createCounterCatchUp,
  createCounterReconciler,
  createPolicyPublisher,
  type EventServices,
  ensureDefaultWorkspace,
  type PolicyPublisher,
  startEventServices,
  startUsageIngest,
  type UsageIngest,
} from '../../control-plane/src/index.ts';
import { createDataPlane, type DataPlane, type DataPlaneOptions } from '../src/index.ts';
import { type FakeUpstream, startFakeUpstream } from './fake-upstream.ts';
import { deletePrefix } from './wait.ts';

export interface StackOptions {
  kind: 'pglite' | 'postgres';
  redisUrl: string;
  /** Redis key prefix of this installation (unique per test file). */
  prefix: string;
  adminKey: string;
  /** TOLLGATE_SECRET_KEY of the control plane. */
  secretKey: Buffer;
  /** Output tokens the fake provider answers with. */
  outputTokens: number;
  /** How many data planes (default 1). */
  dataPlanes?: number;
  /** The root key of the authenticator (default none). */
  rootKey?: string;
  /** Counter catch-up on policy changes (default on). */
  counterCatchUp?: boolean;
  /** Event services (budget events, webhooks) on every control-plane replica (default off). */
  eventServices?: boolean;
  /** Further control-plane replicas over their own buses, without ingest (default 0). */
  replicas?: number;
  /** Usage ingest poll block, ms (default 100). */
  ingestBlockMs?: number;
  /** Data planes refuse capped requests until the counters are rebuilt (default true). */
  requireRebuiltCounters?: boolean;
  /** Prices set through the admin API once all is up: model → cents per MTok, in and out alike. */
  prices?: Record<string, number>;
  /** Options every data plane gets besides its bus, the fake provider and the control-plane URL. */
  dataPlane?: Omit<DataPlaneOptions, 'bus' | 'upstreams' | 'controlPlaneUrl'>;
  /** TOLLGATE_ALLOW_PRIVATE_UPSTREAMS of both planes (default true: BYOK keys are registered on
   * 127.0.0.1 fake providers); `dataPlane.allowPrivateUpstreams` overrides it for the data planes. */
  allowPrivateUpstreams?: boolean;
}

export interface Stack {
  database: TestDatabase;
  /** The control plane's bus (limiter, policy, usage). */
  cpBus: Bus;
  publisher: PolicyPublisher;
  ingest: UsageIngest;
  reconciler: CounterReconciler;
  cp: ControlPlane;
  cpUrl: string;
  /** Base URLs of the further replicas (`replicas`). */
  replicaUrls: string[];
  workspaceId: string;
  upstream: FakeUpstream;
  planes: DataPlane[];
  planeUrls: string[];
  /** An admin REST call on the control plane (with the admin key unless `key` is given);
   * answers the status and the parsed JSON body. */
  admin: (
    method: string,
    path: string,
    body?: unknown,
    key?: string,
    // biome-ignore lint/suspicious/noExplicitAny: JSON answers are checked field by field
  ) => Promise<{ status: number; body: any }>;
  /** Stops everything, deletes the prefix's Redis keys and the test database. */
  close: () => Promise<void>;
}

/**
 * One control plane (authenticator, policy publisher, usage ingest, counter catch-up, optionally
 * event services, and a counter reconciler that is not started), optionally further control-plane
 * replicas, and `dataPlanes` data planes (by default with `requireRebuiltCounters`), over a test
 * database and a real Redis prefix; the provider faked.
 */
export async function startStack(o: StackOptions): Promise<Stack> {
  const dpBuses: Bus[] = [];
  const planes: DataPlane[] = [];
  const planeUrls: string[] = [];
  const replicas: ControlPlane[] = [];
  const replicaBuses: Bus[] = [];
  const replicaUrls: string[] = [];
  const events: EventServices[] = [];
  const s: Partial<Stack> = { planes, planeUrls, replicaUrls };
  s.close = async () => {
    for (const p of planes) await p.stop();
    await s.cp?.stop();
    for (const r of replicas) await r.stop();
    await s.reconciler?.stop();
    await s.ingest?.stop();
    await s.publisher?.stop();
    for (const e of events) await e.stop();
    await s.upstream?.close();
    for (const b of dpBuses) await b.close();
    for (const b of replicaBuses) await b.close();
    await s.cpBus?.close();
    const redis = new Redis(o.redisUrl, { maxRetriesPerRequest: 1 });
    try {
      await deletePrefix(redis, o.prefix);
    } finally {
      redis.disconnect();
    }
    await s.database?.cleanup();
  };
  try {
    const database = await openTestDatabase(o.kind);
    s.database = database;
    const { prisma } = database.db;
    const cpBus = createBus({ redisUrl: o.redisUrl, prefix: o.prefix });
    s.cpBus = cpBus;
    s.upstream = await startFakeUpstream({ outputTokens: o.outputTokens });
    const publisher = createPolicyPublisher({ prisma, bus: cpBus.policy });
    s.publisher = publisher;
    /** The dependencies of one control-plane replica over `bus`; the first one publishes. */
    const replicaDeps = async (bus: Bus, first: boolean) => {
      const ev = o.eventServices
        ? await startEventServices({ prisma, events: bus.events, secretKey: o.secretKey })
        : undefined;
      if (ev) events.push(ev);
      const deps = {
        ...ev?.deps,
        prisma,
        secretKey: o.secretKey,
        allowPrivateWebhookUrls: false,
        allowPrivateUpstreams: o.allowPrivateUpstreams ?? true,
        authenticator: createAuthenticator(prisma, o.rootKey ?? null),
        onPolicyChange: first ? publisher.onPolicyChange : undefined,
        catchUpCounters:
          first && (o.counterCatchUp ?? true)
            ? createCounterCatchUp({
                limiter: bus.limiter,
                onError: (err) => {
                  throw err;
                },
              })
            : undefined,
        log: () => {},
      };
      const { workspaceId } = await ensureDefaultWorkspace(deps, o.adminKey);
      return { deps, workspaceId, afterUsage: ev?.afterUsage };
    };
    const first = await replicaDeps(cpBus, true);
    s.workspaceId = first.workspaceId;
    await publisher.publishNow();
    s.ingest = await startUsageIngest({
      prisma,
      usage: cpBus.usage,
      group: 'control-plane',
      consumer: 'cp-1',
      blockMs: o.ingestBlockMs ?? 100,
      ...(first.afterUsage ? { afterWrite: first.afterUsage } : {}),
    });
    s.reconciler = createCounterReconciler({ prisma, limiter: cpBus.limiter });
    s.cp = buildControlPlane(first.deps);
    const cpUrl = `http://127.0.0.1:${await s.cp.start(0)}`;
    s.cpUrl = cpUrl;
    for (let i = 0; i < (o.replicas ?? 0); i++) {
      const bus = createBus({ redisUrl: o.redisUrl, prefix: o.prefix });
      replicaBuses.push(bus);
      const replica = buildControlPlane((await replicaDeps(bus, false)).deps);
      replicas.push(replica);
      replicaUrls.push(`http://127.0.0.1:${await replica.start(0)}`);
    }
    s.admin = async (method, path, body, key = o.adminKey) => {
      const res = await fetch(cpUrl + path, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    };
    for (let i = 0; i < (o.dataPlanes ?? 1); i++) {
      const bus = createBus({
        redisUrl: o.redisUrl,
        prefix: o.prefix,
        requireRebuiltCounters: o.requireRebuiltCounters ?? true,
      });
      dpBuses.push(bus);
      const dp = createDataPlane({
        allowPrivateUpstreams: o.allowPrivateUpstreams ?? true,
        ...o.dataPlane,
        bus,
        upstreams: { openai: { baseUrl: s.upstream.url, apiKey: 'sk-platform-upstream' } },
        controlPlaneUrl: cpUrl,
      });
      planes.push(dp);
      planeUrls.push(`http://127.0.0.1:${await dp.start(0)}`);
    }
    for (const [model, cents] of Object.entries(o.prices ?? {})) {
      const res = await s.admin('POST', '/v1/prices', {
        model,
        input_per_mtok_cents: cents,
        output_per_mtok_cents: cents,
      });
      if (res.status !== 201)
        throw new Error(`setting the price of ${model}: ${res.status} ${JSON.stringify(res.body)}`);
    }
  } catch (err) {
    await s.close();
    throw err;
  }
  return s as Stack;
}
