import type { EventBus } from '@tollgate/bus';
import type { PrismaClient } from '@tollgate/db';
import type { UsageEvent } from '@tollgate/usage';
import type { CreatedEvents } from '../services/context.ts';
import {
  createWebhookDispatcher,
  type WebhookDispatcher,
  type WebhookDispatcherOptions,
} from '../webhooks/dispatcher.ts';
import { createEventHub, type EventHub } from './hub.ts';
import { createEventPipeline, type EventPipeline } from './pipeline.ts';

export interface EventServicesOptions {
  prisma: PrismaClient;
  events: EventBus;
  secretKey: Buffer;
  allowPrivateWebhookUrls?: boolean;
  /** Warning thresholds (fractions of a cap). Default [0.8]. */
  thresholds?: readonly number[];
  /** Dispatcher tuning (tests shorten backoff and timeouts). */
  webhooks?: Partial<Omit<WebhookDispatcherOptions, 'prisma' | 'secretKey' | 'onEndpointDisabled'>>;
  onError?: (err: unknown) => void;
}

export interface EventServices {
  hub: EventHub;
  pipeline: EventPipeline;
  dispatcher: WebhookDispatcher;
  /** For startUsageIngest's `afterWrite`. */
  afterUsage(usage: UsageEvent[]): Promise<void>;
  /** Spread into the control plane's deps. */
  deps: {
    events: EventHub;
    createdEvents: CreatedEvents;
    onWebhooksQueued: () => void;
  };
  /** Stops the dispatcher (attempts in flight are logged), then the live fan-out. */
  stop(): Promise<void>;
}

/** Events of SPEC §8 for one control-plane process: live fan-out, the pipeline, webhooks. */
export async function startEventServices(opts: EventServicesOptions): Promise<EventServices> {
  const hub = createEventHub(opts.events, opts.onError);
  await hub.start();
  let dispatcher: WebhookDispatcher | null = null;
  const pipeline = createEventPipeline({
    prisma: opts.prisma,
    hub,
    thresholds: opts.thresholds,
    onStored: () => dispatcher?.kick(),
    onError: opts.onError,
  });
  dispatcher = createWebhookDispatcher({
    allowPrivateUrls: opts.allowPrivateWebhookUrls,
    onError: opts.onError,
    ...opts.webhooks,
    prisma: opts.prisma,
    secretKey: opts.secretKey,
    onEndpointDisabled: pipeline.onEndpointDisabled,
  });
  dispatcher.start();
  const d = dispatcher;
  return {
    hub,
    pipeline,
    dispatcher: d,
    afterUsage: (usage) => pipeline.afterUsage(usage),
    deps: {
      events: hub,
      createdEvents: pipeline.subAccountCreated,
      onWebhooksQueued: () => d.kick(),
    },
    async stop() {
      await d.stop();
      await hub.stop();
    },
  };
}
