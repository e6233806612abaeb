export { startUsageIngest, type UsageIngest } from './ingest/consumer.ts';
export {
  booksBalances,
  type CounterReconciler,
  type CounterReconcilerOptions,
  createCounterReconciler,
  startCounterReconciler,
} from './ingest/reconcile.ts';
export { writeUsage } from './ingest/write-usage.ts';
export { createAuthenticator } from './lib/authz.ts';
export { createPolicyPublisher, type PolicyPublisher } from './policy/publisher.ts';
export { REST_PREFIXES } from './rest/router.ts';
export { buildControlPlane, type ControlPlane, type ControlPlaneOptions } from './server.ts';
export type { PolicyChange, ServiceDeps } from './services/context.ts';
export { createWorkspace, ensureDefaultWorkspace } from './services/workspaces.ts';
