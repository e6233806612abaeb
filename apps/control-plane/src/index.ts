export { createAuthenticator } from './lib/authz.ts';
export { buildControlPlane, type ControlPlane, type ControlPlaneOptions } from './server.ts';
export { ensureDefaultWorkspace, createWorkspace } from './services/workspaces.ts';
export type { ServiceDeps, PolicyChange } from './services/context.ts';
export { REST_PREFIXES } from './rest/router.ts';
export { writeUsage } from './ingest/write-usage.ts';
