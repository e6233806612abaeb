import type { IncomingMessage, ServerResponse } from 'node:http';
import { CONTENT_TYPE, metricsAuthorized, type Registry } from '@tollgate/metrics';
import type { PolicyHolder } from '../policy/holder.ts';
import { sendError, sendJson } from './errors.ts';

/**
 * `/readyz`: ready to serve when the policy is loaded and Redis (when used) answers. With
 * `redisOptional` (TOLLGATE_REDIS_DOWN=fail-open: the operator chose to serve every request while
 * Redis is away) Redis is reported but does not make the plane unready — else a load balancer would
 * take every data plane out at once and nothing would be served at all.
 */
export async function answerReadiness(
  res: ServerResponse,
  holder: Pick<PolicyHolder, 'revision' | 'current'>,
  ping: (() => Promise<unknown>) | undefined,
  redisOptional = false,
): Promise<void> {
  const policyRevision = holder.revision();
  const checks: Record<string, { ok: boolean; detail?: string }> = {
    policy:
      holder.current() === null
        ? { ok: false, detail: 'not loaded' }
        : { ok: true, detail: `revision ${policyRevision}` },
  };
  if (ping !== undefined) {
    try {
      await ping();
      checks.redis = { ok: true };
    } catch {
      checks.redis = { ok: false, detail: 'unreachable' };
    }
  }
  const ready = Object.entries(checks).every(
    ([name, c]) => c.ok || (name === 'redis' && redisOptional),
  );
  sendJson(res, ready ? 200 : 503, { ready, policyRevision, checks });
}

/** `/metrics` (Prometheus text), behind the metrics token when one is set. */
export async function answerMetrics(
  req: IncomingMessage,
  res: ServerResponse,
  registry: Registry,
  token: string | undefined,
): Promise<void> {
  if (!metricsAuthorized(req, token)) {
    return sendError(res, {
      status: 401,
      type: 'invalid_request_error',
      code: 'invalid_metrics_token',
      message: '/metrics takes the metrics token as a bearer token.',
    });
  }
  const text = await registry.render();
  res.writeHead(200, { 'content-type': CONTENT_TYPE, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
