export { createEventHub, type EventHub } from './events/hub.ts';
export { createEventPipeline, type EventPipeline } from './events/pipeline.ts';
export { recordEvents } from './events/record.ts';
export {
  type EventServices,
  type EventServicesOptions,
  startEventServices,
} from './events/start.ts';
export { DEFAULT_THRESHOLDS, evaluateUsage } from './events/thresholds.ts';
export type { EventDraft, SpendUpdate, StoredEvent } from './events/types.ts';
export { type BooksScope, booksBalances } from './ingest/books.ts';
export {
  type CounterCatchUp,
  type CounterCatchUpOptions,
  createCounterCatchUp,
} from './ingest/catch-up.ts';
export { startUsageIngest, type UsageIngest } from './ingest/consumer.ts';
export {
  type CounterReconciler,
  type CounterReconcilerOptions,
  createCounterReconciler,
  startCounterReconciler,
} from './ingest/reconcile.ts';
export type { CounterTopUpSummary } from './ingest/top-up.ts';
export {
  createTouchedCounters,
  TOUCHED_MAX,
  type TouchedCounters,
  type TouchingUsage,
} from './ingest/touched.ts';
export { writeUsage } from './ingest/write-usage.ts';
export { type AuthenticatorOptions, createAuthenticator } from './lib/authz.ts';
export {
  type ClientAddress,
  createClientAddress,
  loopbackClientAddress,
  trustedProxies,
} from './lib/client-address.ts';
export {
  apiOf,
  attachControlPlaneSources,
  type ControlPlaneMetrics,
  createControlPlaneMetrics,
} from './metrics.ts';
export { createPolicyPublisher, type PolicyPublisher } from './policy/publisher.ts';
export { buildControlPlane, type ControlPlane, type ControlPlaneOptions } from './server.ts';
export { type PolicyChange, reservationView, type ServiceDeps } from './services/context.ts';
export { checkSecretKey } from './services/secret-key.ts';
export { createWorkspace, ensureDefaultWorkspace } from './services/workspaces.ts';
export {
  createWebhookDispatcher,
  defaultBackoffMs,
  RETRY_SCHEDULE_MS,
  type WebhookDispatcher,
  type WebhookDispatcherOptions,
} from './webhooks/dispatcher.ts';
export { signWebhook } from './webhooks/sign.ts';
