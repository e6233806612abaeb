import { type Bus, createBus } from '@tollgate/bus';
import {
  buildControlPlane,
  createAuthenticator,
  type EventServices,
  ensureDefaultWorkspace,
  startEventServices,
  startUsageIngest,
  type UsageIngest,
} from '@tollgate/control-plane';
import type { PrismaClient } from '@tollgate/db';
import { usageEvent } from '@tollgate/testkit';
import { encodeUsageBatch, type UsageEvent } from '@tollgate/usage';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { ADMIN_KEY, type Answer, ROOT_KEY } from './harness.ts';

/**
 * A control plane with everything of SPEC §8 running: usage ingest → thresholds → stored events →
 * live fan-out on the bus → graphql-ws subscribers, and the webhook dispatcher. Usage is appended
 * to the bus's stream exactly as a data plane does.
 */
export interface EventPlane {
  url: string;
  wsUrl: string;
  prisma: PrismaClient;
  workspaceId: string;
  events: EventServices;
  append(events: UsageEvent[]): Promise<void>;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers are checked field by field in tests
  api(method: string, path: string, body?: unknown, key?: string): Promise<Answer & { body: any }>;
  stop(): Promise<void>;
}

export interface EventPlaneOptions {
  prisma: PrismaClient;
  /** Shared between replicas; created (in-process) when absent and closed by stop(). */
  bus?: Bus;
  webhooks?: Parameters<typeof startEventServices>[0]['webhooks'];
  thresholds?: number[];
  consumer?: string;
}

export async function startEventPlane(opts: EventPlaneOptions): Promise<EventPlane> {
  const ownBus = !opts.bus;
  const bus = opts.bus ?? createBus({ prefix: `ev-${process.pid}-${Date.now()}` });
  const secretKey = Buffer.alloc(32, 7);
  const events = await startEventServices({
    prisma: opts.prisma,
    events: bus.events,
    secretKey,
    allowPrivateWebhookUrls: true,
    thresholds: opts.thresholds,
    webhooks: { pollMs: 50, backoffMs: () => 50, timeoutMs: 2_000, ...opts.webhooks },
  });
  const deps = {
    ...events.deps,
    prisma: opts.prisma,
    secretKey,
    allowPrivateWebhookUrls: true,
    authenticator: createAuthenticator(opts.prisma, ROOT_KEY),
    log: () => {},
  };
  const boot = await ensureDefaultWorkspace(deps, ADMIN_KEY);
  const ingest: UsageIngest = await startUsageIngest({
    prisma: opts.prisma,
    usage: bus.usage,
    group: 'cp',
    consumer: opts.consumer ?? 'c1',
    blockMs: 50,
    afterWrite: events.afterUsage,
  });
  const plane = buildControlPlane(deps);
  const port = await plane.start(0);
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    prisma: opts.prisma,
    workspaceId: boot.workspaceId,
    events,
    append: (list) => bus.usage.append([encodeUsageBatch(list)]),
    api: async (method, path, body, key = ADMIN_KEY) => {
      const res = await fetch(url + path, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
    },
    stop: async () => {
      await plane.stop();
      await ingest.stop();
      await events.stop();
      if (ownBus) await bus.close();
    },
  };
}

export function usage(
  workspaceId: string,
  subAccountId: string,
  over: Partial<UsageEvent> = {},
): UsageEvent {
  return usageEvent({
    workspaceId,
    subAccountId,
    inputTokens: 100,
    outputTokens: 50,
    providerCostMicros: 1_000,
    billedCostMicros: 1_000,
    ...over,
  });
}

/** A graphql-ws client collecting what one subscription yields. */
export interface Subscriber {
  client: Client;
  // biome-ignore lint/suspicious/noExplicitAny: results are checked field by field in tests
  received: any[];
  errors: unknown[];
  /** Resolves once the server acknowledged the connection. */
  connected: Promise<void>;
  close(): Promise<void>;
}

export function subscribe(
  wsUrl: string,
  key: string | null,
  query: string,
  variables: Record<string, unknown> = {},
): Subscriber {
  let onConnected: () => void = () => {};
  const connected = new Promise<void>((resolve) => {
    onConnected = resolve;
  });
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    // Errors reach the subscription's sink below; the default would print them to the console.
    onNonLazyError: () => {},
    connectionParams: key ? { authorization: `Bearer ${key}` } : {},
    on: { connected: () => onConnected() },
  });
  const sub: Subscriber = {
    client,
    received: [],
    errors: [],
    connected,
    close: async () => {
      await client.dispose();
    },
  };
  client.subscribe(
    { query, variables },
    {
      next: (value) => sub.received.push(value.data ?? value),
      error: (err) => sub.errors.push(err),
      complete: () => {},
    },
  );
  return sub;
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}
