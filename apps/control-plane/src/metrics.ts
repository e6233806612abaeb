import type { UsageStream } from '@tollgate/bus';
import type { PrismaClient } from '@tollgate/db';
import { type CounterChild, createRegistry, type Registry } from '@tollgate/metrics';

const METHODS = new Set(['GET', 'POST', 'PATCH', 'PUT', 'DELETE', 'OPTIONS', 'HEAD']);

/** The API a path belongs to, for `tollgate_cp_requests_total{api}` (a fixed set). */
export function apiOf(path: string): string {
  if (path === '/graphql') return 'graphql';
  if (path === '/healthz' || path === '/readyz' || path === '/metrics') return 'ops';
  if (path.startsWith('/v1/')) return 'rest';
  return 'other';
}

export interface ControlPlaneMetrics {
  registry: Registry;
  request(api: string, method: string | undefined, status: number): void;
  /** Usage events written to the books by the ingest. */
  ingested: CounterChild;
  authFailures: CounterChild;
  authThrottled: CounterChild;
}

export interface ControlPlaneSources {
  prisma: PrismaClient;
  /** The usage stream and the ingest's consumer group: backlog and lag. */
  usage?: Pick<UsageStream, 'lag'>;
  group?: string;
  /** The last policy revision this process announced. */
  publishedRevision?: () => number;
}

export function createControlPlaneMetrics(): ControlPlaneMetrics {
  const registry = createRegistry();
  const requests = registry.counter(
    'tollgate_cp_requests_total',
    'Control-plane HTTP requests answered, by API (rest, graphql, ops, other), method and status.',
    ['api', 'method', 'status'],
  );
  const ingested = registry.counter(
    'tollgate_cp_usage_events_ingested_total',
    'Usage events written to the books by the ingest.',
  );
  const authFailures = registry.counter(
    'tollgate_cp_auth_failures_total',
    'Admin API authentications refused (unknown, revoked or malformed key).',
  );
  const authThrottled = registry.counter(
    'tollgate_cp_auth_throttled_total',
    'Admin API requests refused with 429 after repeated authentication failures.',
  );
  const children = new Map<string, CounterChild>();
  return {
    registry,
    request(api, method, status) {
      const m = method !== undefined && METHODS.has(method) ? method : 'OTHER';
      const key = `${api} ${m} ${status}`;
      let c = children.get(key);
      if (c === undefined) {
        c = requests.labels(api, m, String(status));
        children.set(key, c);
      }
      c.inc();
    },
    ingested,
    authFailures,
    authThrottled,
  };
}

/** Gauges read on each scrape: webhook queue, usage stream backlog, published policy revision. */
export function attachControlPlaneSources(m: ControlPlaneMetrics, src: ControlPlaneSources): void {
  const r = m.registry;
  const webhookPending = r.gauge(
    'tollgate_cp_webhook_deliveries_pending',
    'Webhook deliveries not yet delivered nor given up (the retry queue).',
  );
  const webhookDue = r.gauge(
    'tollgate_cp_webhook_deliveries_due',
    'Pending webhook deliveries whose next attempt is due now.',
  );
  r.onCollect(async () => {
    const now = new Date();
    const [pending, due] = await Promise.all([
      src.prisma.webhookDelivery.count({ where: { status: 'pending' } }),
      src.prisma.webhookDelivery.count({
        where: { status: 'pending', nextAttemptAt: { lte: now } },
      }),
    ]);
    webhookPending.set(pending);
    webhookDue.set(due);
  });
  if (src.usage?.lag !== undefined && src.group !== undefined) {
    const lagOf = src.usage.lag.bind(src.usage);
    const group = src.group;
    const pending = r.gauge(
      'tollgate_cp_usage_stream_pending',
      'Usage stream entries delivered to the ingest and not yet acknowledged.',
    );
    const undelivered = r.gauge(
      'tollgate_cp_usage_stream_undelivered',
      'Usage stream entries not yet read by the ingest.',
    );
    const lag = r.gauge(
      'tollgate_cp_ingest_lag_seconds',
      'Age of the oldest usage stream entry not yet ingested (0 when caught up).',
    );
    r.onCollect(async () => {
      const l = await lagOf(group);
      pending.set(l.pending);
      undelivered.set(l.undelivered);
      lag.set(l.oldestUnackedMs === null ? 0 : l.oldestUnackedMs / 1000);
    });
  }
  if (src.publishedRevision !== undefined) {
    const read = src.publishedRevision;
    const revision = r.gauge(
      'tollgate_cp_policy_revision_published',
      'The last policy revision this control plane announced (-1: none yet).',
    );
    r.onCollect(() => revision.set(read()));
  }
}
