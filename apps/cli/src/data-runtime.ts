// What running a data plane needs, and nothing of the control plane: `tollgate data-plane` imports
// only this (no Prisma, PGlite, GraphQL schema), so a data-plane replica starts fast and small.
import { type Bus, createBus } from '@tollgate/bus';
import { createDataPlane, type DataPlane, type UpstreamConfig } from '@tollgate/data-plane';
import type { Env } from './env.ts';
import { type Logger, planeLogger } from './log.ts';
import { listenError } from './preflight.ts';
import { hostUrl } from './urls.ts';

/** The bus: Redis when REDIS_URL is set, else in-process (only valid with both planes in one process). */
export function openBus(env: Env): Bus {
  // Capped requests fail closed (503) while a workspace's spend counters are missing — after a
  // Redis flush, or before the control plane's first rebuild — instead of trusting empty counters.
  return createBus({
    redisUrl: env.REDIS_URL,
    prefix: env.TOLLGATE_REDIS_PREFIX,
    requireRebuiltCounters: true,
  });
}

/** Platform provider credentials (SPEC §2); BYOK keys per workspace take precedence. */
export function platformUpstreams(env: Env): Record<string, UpstreamConfig | undefined> {
  const upstreams: Record<string, UpstreamConfig | undefined> = {};
  if (env.OPENAI_API_KEY || env.OPENAI_BASE_URL) {
    upstreams.openai = {
      baseUrl: env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1',
      apiKey: env.OPENAI_API_KEY ?? null,
    };
  }
  if (env.ANTHROPIC_API_KEY || env.ANTHROPIC_BASE_URL) {
    // ANTHROPIC_BASE_URL follows the Anthropic SDK: the host, without `/v1`.
    const base = (env.ANTHROPIC_BASE_URL ?? 'https://api.anthropic.com').replace(/\/+$/, '');
    upstreams.anthropic = {
      baseUrl: base.endsWith('/v1') ? base : `${base}/v1`,
      apiKey: env.ANTHROPIC_API_KEY ?? null,
    };
  }
  // OpenAI-compatible providers by name (vLLM, Ollama, Groq, Together …), called as `<name>/<model>`.
  for (const [name, p] of Object.entries(env.TOLLGATE_PROVIDERS ?? {})) {
    upstreams[name] =
      p.kind === 'azure'
        ? { baseUrl: p.baseUrl, apiKey: p.apiKey ?? null, kind: 'azure', apiVersion: p.apiVersion }
        : { baseUrl: p.baseUrl, apiKey: p.apiKey ?? null };
  }
  return upstreams;
}

/** The data plane: loads the latest policy from the bus, then serves the OpenAI-compatible API. */
export async function startDataPlane(
  env: Env,
  bus: Bus,
  secretKey: Buffer,
  controlPlaneUrl: string | undefined,
  log: Logger,
): Promise<{ plane: DataPlane; port: number }> {
  const plane = createDataPlane({
    bus,
    secretKey,
    upstreams: platformUpstreams(env),
    controlPlaneUrl,
    log: planeLogger(log),
    metricsToken: env.TOLLGATE_METRICS_TOKEN,
    limiterDown: env.TOLLGATE_REDIS_DOWN,
    reservationTtlMs: env.TOLLGATE_RESERVATION_TTL_SECONDS * 1000,
    allowPrivateUpstreams: env.TOLLGATE_ALLOW_PRIVATE_UPSTREAMS,
    drainTimeoutMs: env.TOLLGATE_DRAIN_TIMEOUT_SECONDS * 1000,
  });
  const port = await plane
    .start(env.TOLLGATE_DATA_PLANE_PORT, env.TOLLGATE_HOST)
    .catch((err: unknown) => {
      throw listenError(
        'TOLLGATE_DATA_PLANE_PORT',
        env.TOLLGATE_HOST,
        env.TOLLGATE_DATA_PLANE_PORT,
        err,
      );
    });
  log('info', 'data plane listening', {
    url: hostUrl(env.TOLLGATE_HOST, port),
    bus: bus.mode,
    policyRevision: plane.policyRevision(),
    providers: Object.keys(platformUpstreams(env)),
  });
  return { plane, port };
}
