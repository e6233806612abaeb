import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGraphQLHandler } from './graphql/index.ts';
import { attachGraphQLWs } from './graphql/ws.ts';
import { HttpError, sendError, sendJson } from './rest/http.ts';
import { createRestHandler, type RestDeps } from './rest/router.ts';

export interface ControlPlaneOptions extends RestDeps {
  /** Readiness probe: resolves when PostgreSQL (and Redis, when used) answer. */
  ready?: () => Promise<boolean>;
}

export interface ControlPlane {
  server: Server;
  /** Listens and resolves with the bound port. */
  start(port: number, host?: string): Promise<number>;
  /** Stops accepting, lets in-flight requests finish, then closes. */
  stop(): Promise<void>;
}

/** The control plane's HTTP surface: `/graphql` (HTTP and graphql-ws), the REST façade,
 * `/healthz`, `/readyz`. */
export function buildControlPlane(deps: ControlPlaneOptions): ControlPlane {
  const rest = createRestHandler(deps);
  const graphql = createGraphQLHandler(deps);
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/graphql') return graphql.handle(req, res);
    if (url.pathname === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (url.pathname === '/readyz') {
      const ready = (await deps.ready?.().catch(() => false)) ?? true;
      return sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not_ready' });
    }
    if (await rest(req, res, url)) return;
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
  const ws = attachGraphQLWs(server, deps, graphql.schema);
  return {
    server,
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
