export { createDataPlane, type DataPlane, type DataPlaneOptions } from './data-plane.ts';
export { jsonLogger, type Logger, silentLogger } from './log.ts';
export { openSealed } from './policy/seal.ts';
export type { UpstreamConfig } from './upstreams.ts';
