import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerClientError, CONTENT_TYPE, metricsAuthorized } from '@tollgate/metrics';
import { createConsoleHandler } from './console-static.ts';
import { createGraphQLHandler } from './graphql/index.ts';
import { attachGraphQLWs } from './graphql/ws.ts';
import { apiOf, type ControlPlaneMetrics, createControlPlaneMetrics } from './metrics.ts';
import { HttpError, sendError, sendJson } from './rest/http.ts';
import { createRestHandler, type RestDeps } from './rest/router.ts';

export interface ControlPlaneOptions extends RestDeps {
  /** Readiness probe: resolves when PostgreSQL (and Redis, when used) answer. */
  ready?: () => Promise<boolean>;
  /** Named readiness checks (PostgreSQL, Redis …): each resolves when its dependency answers.
   * `/readyz` answers 503 naming the ones that failed. */
  readyChecks?: Record<string, () => Promise<unknown>>;
  /** Request counters and scrape-time gauges; one is created when absent. */
  metrics?: ControlPlaneMetrics;
  /** Set: `/metrics` takes `Authorization: Bearer <token>` (TOLLGATE_METRICS_TOKEN). */
  metricsToken?: string;
  /** The built ops console served at `/` (default apps/console/dist). */
  consoleDir?: string;
}

/** A readiness probe that has not answered by then counts as failed (a database that accepts
 * connections but never answers would otherwise hold `/readyz` open). */
export const READY_PROBE_TIMEOUT_MS = 3_000;

export interface ControlPlane {
  server: Server;
  /** Listens and resolves with the bound port. */
  start(port: number, host?: string): Promise<number>;
  /** Stops accepting, lets in-flight requests finish, then closes. */
  stop(): Promise<void>;
  metrics: ControlPlaneMetrics;
}

/** The control plane's HTTP surface: `/graphql` (HTTP and graphql-ws), the REST façade,
 * `/healthz`, `/readyz`. */
export function buildControlPlane(deps: ControlPlaneOptions): ControlPlane {
  const rest = createRestHandler(deps);
  const graphql = createGraphQLHandler(deps);
  const metrics = deps.metrics ?? createControlPlaneMetrics();
  const readiness = async (res: ServerResponse) => {
    const checks: Record<string, { ok: boolean }> = {};
    const probes = Object.entries(deps.readyChecks ?? {});
    if (deps.ready !== undefined) probes.push(['ready', deps.ready]);
    await Promise.all(
      probes.map(async ([name, probe]) => {
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), READY_PROBE_TIMEOUT_MS);
        });
        const answered = probe().then(
          (v) => v !== false,
          () => false,
        );
        const ok = await Promise.race([answered, timedOut]);
        clearTimeout(timer);
        checks[name] = { ok };
      }),
    );
    const ready = Object.values(checks).every((c) => c.ok);
    sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not_ready', checks });
  };
  const scrape = async (req: IncomingMessage, res: ServerResponse) => {
    if (!metricsAuthorized(req, deps.metricsToken)) {
      return sendError(
        res,
        new HttpError(
          401,
          'invalid_request_error',
          'invalid_metrics_token',
          '/metrics takes the metrics token as a bearer token',
        ),
      );
    }
    const text = await metrics.registry.render();
    res.writeHead(200, { 'content-type': CONTENT_TYPE, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  const consoleUi = createConsoleHandler(deps.consoleDir);
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const api = apiOf(url.pathname);
    res.once('finish', () => metrics.request(api, req.method, res.statusCode));
    if (url.pathname === '/graphql') return graphql.handle(req, res);
    if (url.pathname === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (url.pathname === '/readyz') return readiness(res);
    if (url.pathname === '/metrics' && req.method === 'GET') return scrape(req, res);
    if (await rest(req, res, url)) return;
    if (!url.pathname.startsWith('/v1/') && (await consoleUi(req, res, url))) return;
    sendError(
      res,
      new HttpError(
        404,
        'invalid_request_error',
        'not_found',
        `no route for ${req.method} ${url.pathname}`,
      ),
    );
  };
  const server = createServer({ maxHeaderSize: 16 * 1024 }, (req, res) => {
    handler(req, res).catch((err) => {
      deps.log('error', 'unhandled error', { error: String(err) });
      if (!res.headersSent)
        sendError(res, new HttpError(500, 'server_error', 'internal_error', 'internal error'));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  server.on('clientError', answerClientError);
  const ws = attachGraphQLWs(server, deps, graphql.schema);
  return {
    server,
    metrics,
    start: (port, host = '127.0.0.1') =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
      }),
    stop: async () => {
      await ws.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    },
  };
}
