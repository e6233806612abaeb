import {
  type CounterChild,
  createRegistry,
  type Histogram,
  type Registry,
} from '@tollgate/metrics';
import type { PolicyHolder } from './policy/holder.ts';
import { ENDPOINTS } from './providers/registry.ts';

/** Seconds; request latency spans fast refusals to long streams. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const TTFT_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30];

/**
 * Why a request ended as it did, for `tollgate_dp_requests_total{reason}`: a small fixed set, so
 * the label cannot grow with client input.
 */
export function reasonOf(status: number, code: string | null | undefined): string {
  if (status < 400) return 'ok';
  if (code === undefined) return 'upstream_error'; // an upstream error body relayed as is
  if (status === 401) return 'auth';
  if (status === 402) return 'budget';
  if (status === 429) return code === 'too_many_auth_failures' ? 'auth' : 'rate_limit';
  if (code === 'model_not_allowed') return 'model_not_allowed';
  if (status === 403) return 'forbidden';
  if (status === 413) return 'too_large';
  if (status === 503) return 'unavailable';
  if (status === 502 || status === 504) return 'upstream_error';
  if (status >= 500) return 'error';
  return 'invalid_request';
}

/** The route family of a path: model endpoints by name, everything else by kind. */
export function endpointOf(path: string): string {
  const spec = ENDPOINTS.get(path);
  if (spec !== undefined) return spec.kind;
  if (path === '/v1/models' || path.startsWith('/v1/models/')) return 'models';
  if (path === '/healthz' || path === '/readyz' || path === '/metrics') return 'ops';
  if (path.startsWith('/v1/')) return 'admin';
  return 'other';
}

export interface DataPlaneMetrics {
  registry: Registry;
  request(endpoint: string, status: number, reason: string, seconds: number): void;
  ttft: Histogram;
  upstreamError(errorClass: string): void;
  retries: CounterChild;
  /** Settles charged less than the cost because the reservation was gone (see flight.finish). */
  settleBounded: CounterChild;
  reservationOpened(): void;
  reservationClosed(): void;
  /** A reservation put in place for a request already running (enforce/holds.ts). */
  holdRestored(why: 'lost' | 'capped'): void;
  usageQueued: CounterChild;
  usageFlushed: CounterChild;
  usageDropped: CounterChild;
}

export function createDataPlaneMetrics(): DataPlaneMetrics {
  const registry = createRegistry();
  const requests = registry.counter(
    'tollgate_dp_requests_total',
    'Data-plane requests answered, by endpoint, HTTP status and reason (ok, auth, budget, rate_limit, model_not_allowed, upstream_error, ...).',
    ['endpoint', 'status', 'reason'],
  );
  const latency = registry.histogram(
    'tollgate_dp_request_duration_seconds',
    'Time from request to the end of the answer, by endpoint.',
    LATENCY_BUCKETS,
    ['endpoint'],
  );
  const ttft = registry.histogram(
    'tollgate_dp_ttft_seconds',
    'Time to the first byte (first token) of a served answer.',
    TTFT_BUCKETS,
  );
  const upstreamErrors = registry.counter(
    'tollgate_dp_upstream_errors_total',
    'Forwarded requests that ended in an upstream error, by class.',
    ['class'],
  );
  const retries = registry.counter(
    'tollgate_dp_upstream_retries_total',
    'Upstream calls retried (429/5xx, connection lost) within one reservation.',
  );
  const settleBounded = registry.counter(
    'tollgate_dp_settles_bounded_total',
    'Requests billed less than their cost: their reservation was gone at settle (outlived its TTL or lost with Redis) and the cap had less room left.',
  );
  const restored = registry.counter(
    'tollgate_dp_reservations_restored_total',
    'Reservations put in place for requests already running: after Redis lost the counters (why="lost"), or on a workspace cap or tag budget set while they ran (why="capped").',
    ['why'],
  );
  const open = registry.gauge(
    'tollgate_dp_reservations_open',
    'Requests admitted with a reservation that has not settled yet.',
  );
  const queued = registry.counter(
    'tollgate_dp_usage_events_queued_total',
    'Usage events accepted into the send buffer.',
  );
  const flushed = registry.counter(
    'tollgate_dp_usage_events_flushed_total',
    'Usage events appended to the usage stream.',
  );
  const dropped = registry.counter(
    'tollgate_dp_usage_events_dropped_total',
    'Usage events dropped (schema refusal or buffer overflow).',
  );
  // Pre-resolved children: the per-request path is one map lookup and a few additions.
  const latencyBy = new Map<string, ReturnType<typeof latency.labels>>();
  const requestBy = new Map<string, CounterChild>();
  return {
    registry,
    request(endpoint, status, reason, seconds) {
      const key = `${endpoint} ${status} ${reason}`;
      let c = requestBy.get(key);
      if (c === undefined) {
        c = requests.labels(endpoint, String(status), reason);
        requestBy.set(key, c);
      }
      c.inc();
      let h = latencyBy.get(endpoint);
      if (h === undefined) {
        h = latency.labels(endpoint);
        latencyBy.set(endpoint, h);
      }
      h.observe(seconds);
    },
    ttft,
    upstreamError: (errorClass) => upstreamErrors.labels(errorClass).inc(),
    retries,
    settleBounded,
    reservationOpened: () => open.inc(),
    reservationClosed: () => open.dec(),
    holdRestored: (why) => restored.labels(why).inc(),
    usageQueued: queued,
    usageFlushed: flushed,
    usageDropped: dropped,
  };
}

/** The policy's gauges (revision in force, its age, the last confirmation by the store) and the
 * settlements in progress, read when /metrics is scraped. */
export function watchPolicy(
  metrics: DataPlaneMetrics,
  holder: Pick<PolicyHolder, 'revision' | 'installedAt' | 'syncedAt'>,
  settling: () => number,
): void {
  const revision = metrics.registry.gauge(
    'tollgate_dp_policy_revision',
    'Revision of the policy in force (-1: none loaded).',
  );
  const age = metrics.registry.gauge(
    'tollgate_dp_policy_age_seconds',
    'Seconds since the policy in force was installed (-1: none loaded).',
  );
  const synced = metrics.registry.gauge(
    'tollgate_dp_policy_sync_age_seconds',
    'Seconds since the policy store last answered a read of the latest policy (-1: never).',
  );
  const inFlightSettle = metrics.registry.gauge(
    'tollgate_dp_settlements_in_progress',
    'Settlements (reservation release + usage event) in progress.',
  );
  metrics.registry.onCollect(() => {
    const t = Date.now();
    const installed = holder.installedAt();
    const sync = holder.syncedAt();
    revision.set(holder.revision());
    age.set(installed === null ? -1 : (t - installed) / 1000);
    synced.set(sync === null ? -1 : (t - sync) / 1000);
    inFlightSettle.set(settling());
  });
}
