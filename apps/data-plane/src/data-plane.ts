import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Bus } from '@tollgate/bus';
import { answerClientError } from '@tollgate/metrics';
import type { KeyChain } from '@tollgate/policy';
import { CATALOGUE } from '@tollgate/pricing';
import { createProxyServer } from 'http-proxy-3';
import { createHolds } from './enforce/holds.ts';
import { currentRates } from './enforce/refusals.ts';
import { type Flight, finish } from './flight.ts';
import { createForwarder } from './forward/proxy.ts';
import { handleModelRequest } from './handle-model.ts';
import { errorCodeOf, sendError, sendJson } from './http/errors.ts';
import { answerMetrics, answerReadiness } from './http/ops.ts';
import { bearerHash, policyKnowing } from './http/request.ts';
import { type Logger, silentLogger } from './log.ts';
import {
  createDataPlaneMetrics,
  type DataPlaneMetrics,
  endpointOf,
  reasonOf,
  watchPolicy,
} from './metrics.ts';
import { answerOwnModels, callerOf } from './models.ts';
import { createPolicyHolder } from './policy/holder.ts';
import { checkSecretKey, createKeyOpener } from './policy/seal.ts';
import { ENDPOINTS } from './providers/registry.ts';
import type { UpstreamConfig } from './upstreams.ts';
import { createUsageEmitter } from './usage/emitter.ts';

export interface DataPlaneOptions {
  bus: Pick<Bus, 'limiter' | 'policy' | 'usage' | 'ping'>;
  /** TOLLGATE_SECRET_KEY (32 bytes): opens BYOK provider keys from the snapshot. */
  secretKey?: Buffer;
  /** Platform credentials per provider name. */
  upstreams: Record<string, UpstreamConfig | undefined>;
  /** Admin paths (SPEC §4) are forwarded here when set. */
  controlPlaneUrl?: string;
  log?: Logger;
  now?: () => number;
  /** Default 1 MiB. */
  maxBodyBytes?: number;
  /** Upstream idle timeout (no answer / no stream bytes), ms. Default 120 000. */
  upstreamTimeoutMs?: number;
  /** How long an unsettled reservation lives without renewal. Default 10 min. */
  reservationTtlMs?: number;
  /** Keep the hold of requests still running on the counters (default true): renew their
   * reservations, put them back after a loss of the counters, add them to caps set meanwhile
   * (enforce/holds.ts). Off: a reservation lives exactly its TTL, however long its request runs,
   * and nothing is put back (tests of the settle bound use this). */
  keepHolds?: boolean;
  /** How long a failing settle is retried (the limiter unreachable) before the spend is given up
   * on the counters; the usage record keeps it. Default 60 000 ms. */
  settleRetryMs?: number;
  /** Most settles retried at once (default 10 000); beyond, a failing settle is given up on at
   * once (its usage record still carries the money). */
  maxSettlesRetrying?: number;
  /** When the limiter (Redis) is unreachable: 'fail-closed' (default) refuses requests with a cap
   * or a rate limit (503); 'fail-open' serves them unreserved. Unlimited requests are always served. */
  limiterDown?: 'fail-closed' | 'fail-open';
  /** Safety-net re-read of the latest policy, ms. Default 5 000. */
  policyPollMs?: number;
  /** TOLLGATE_ALLOW_PRIVATE_UPSTREAMS: connections to a workspace's own (BYOK) base URL may reach
   * loopback/private/link-local addresses. Default false: refused at connect time (502). */
  allowPrivateUpstreams?: boolean;
  /** A JSON answer larger than this is relayed as it comes rather than read whole (its usage read
   * from its end). Default 64 MiB. */
  maxJsonAnswerBytes?: number;
  /** Usage batching (defaults 100 events / 50 ms). */
  usageBatch?: { maxBatch?: number; flushMs?: number };
  /** Set: `/metrics` takes `Authorization: Bearer <token>` (TOLLGATE_METRICS_TOKEN). */
  metricsToken?: string;
  /** Largest request head (request line + headers) accepted; larger answers 431. Default 16 KiB. */
  maxHeaderBytes?: number;
  /** How long `stop()` lets requests in flight finish (TOLLGATE_DRAIN_TIMEOUT_SECONDS); past it the
   * ones still running are cut — their connections closed, the upstream aborted — and settled with
   * what was served (`shutdown`). Default 25 000 ms (below the usual 30 s grace of orchestrators). */
  drainTimeoutMs?: number;
}

export interface DataPlane {
  server: Server;
  /** Loads the policy, subscribes, then listens. Resolves with the bound port. */
  start(port: number, host?: string): Promise<number>;
  /** Stops listening, waits for requests in flight (cut past `drainTimeoutMs`), flushes usage.
   * Answers how many usage events could not be delivered (the usage stream unreachable for 5 s):
   * lost, and logged. Does not close the bus. */
  stop(): Promise<{ undeliveredUsage: number }>;
  policyRevision(): number;
  /** Re-reads the latest policy now (tests, admin hooks). */
  refreshPolicy(): Promise<void>;
  /** Waits for settlements in progress, then sends buffered usage events. */
  flushUsage(): Promise<void>;
  metrics: DataPlaneMetrics;
}

/** How long a stop waits, once every connection closed, for their requests to end. */
const SETTLE_AFTER_CLOSE_MS = 5_000;

/** Admin paths of SPEC §4 reachable through the data plane's base URL. */
const ADMIN_PREFIXES = [
  '/v1/workspaces',
  '/v1/workspace',
  '/v1/admin-keys',
  '/v1/sub-accounts',
  '/v1/usage/by-tag',
  '/v1/usage/export',
  '/v1/budgets',
  '/v1/prices',
  '/v1/plans',
  '/v1/provider-keys',
  '/v1/webhooks',
  // GraphQL (SPEC §3: the admin API on whichever port it is reached), its subscriptions included.
  '/graphql',
];

/** The control plane's limit on an admin request body (its REST `MAX_BODY_BYTES`). */
const ADMIN_MAX_BODY_BYTES = 1024 * 1024;

function isAdminPath(path: string): boolean {
  return ADMIN_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`));
}

/** The model id of `/v1/models/{id}` (`provider/model`, its slash encoded or not). */
function modelIdOf(path: string): string {
  const raw = path.slice('/v1/models/'.length);
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** The client's own `x-request-id`, logged next to ours when it is a plain token. */
function clientRequestId(v: string | string[] | undefined): string | undefined {
  return typeof v === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(v) ? v : undefined;
}

const catalogue = new Map(CATALOGUE.map((p) => [p.model, p]));

export function createDataPlane(opts: DataPlaneOptions): DataPlane {
  const log = opts.log ?? silentLogger;
  const now = opts.now ?? Date.now;
  const { limiter } = opts.bus;
  const metrics = createDataPlaneMetrics();
  const holder = createPolicyHolder({
    bus: opts.bus.policy,
    basePrices: (model) => catalogue.get(model),
    pollMs: opts.policyPollMs,
    log,
  });
  const emitter = createUsageEmitter({ usage: opts.bus.usage, log, metrics, ...opts.usageBatch });
  const reservationTtlMs = opts.reservationTtlMs ?? 600_000;
  const holds =
    opts.keepHolds === false
      ? undefined
      : createHolds({
          limiter,
          reservationTtlMs,
          now,
          log,
          metrics,
          policy: () => holder.current(),
        });
  // Once stopping, a settle that keeps failing is given up on within seconds (see finish).
  let stopping = false;
  // Once the drain deadline passed: the connections still open are closed by us (see stop).
  let cutting = false;
  const settleDeps = {
    limiter,
    emitter,
    log,
    now,
    metrics,
    holds,
    settleRetryMs: opts.settleRetryMs,
    retrying: { count: 0, max: opts.maxSettlesRetrying ?? 10_000 },
    stopping: () => stopping,
  };
  const inFlight = new Set<Promise<void>>();
  // Model requests still being handled before they are forwarded (reading, admission): a stop
  // waits for them, as for the forwarded ones (forwarder.running), before it flushes usage.
  let handling = 0;
  watchPolicy(metrics, holder, () => inFlight.size);
  const track = (flight: Flight, outcome: Parameters<typeof finish>[2]) => {
    const p = finish(settleDeps, flight, outcome);
    inFlight.add(p);
    return p.finally(() => inFlight.delete(p));
  };
  const forwarder = createForwarder({
    cutting: () => cutting,
    timeoutMs: opts.upstreamTimeoutMs ?? 120_000,
    finish: track,
    now,
    allowPrivateUpstreams: opts.allowPrivateUpstreams,
    maxJsonBytes: opts.maxJsonAnswerBytes,
  });
  // x-forwarded-for gets the client's address appended: the control plane counts failed
  // authentications per client (it believes the header from proxies it trusts), not against this
  // data plane's one address — else one client's typos would lock everyone out of the admin API.
  const adminProxy = createProxyServer({ changeOrigin: true, xfwd: true });
  adminProxy.on('error', (_err, _req, res) => {
    if ('writeHead' in res) {
      sendError(res, {
        status: 502,
        type: 'upstream_error',
        code: 'control_plane_unreachable',
        message: 'The control plane could not be reached.',
      });
    } else res.destroy(); // a subscription's socket: nothing to answer on it
  });
  const modelDeps = {
    policy: holder.current,
    newerPolicy: holder.newerThan,
    limiter,
    emitter,
    forward: forwarder.forward,
    finishUnforwarded: (flight: Flight) =>
      track(flight, {
        status: 'blocked',
        errorClass: 'spend_cap_reached',
        httpStatus: 402,
        usage: null,
        served: false,
        outputEstimate: 0,
        ttftMs: null,
        servedModel: null,
      }),
    openKey: createKeyOpener(opts.secretKey),
    upstreams: opts.upstreams,
    log,
    now,
    maxBodyBytes: opts.maxBodyBytes ?? 1024 * 1024,
    reservationTtlMs,
    metrics,
    holds,
    limiterDown: opts.limiterDown ?? 'fail-closed',
  };

  function toControlPlane(req: IncomingMessage, res: ServerResponse) {
    if (opts.controlPlaneUrl === undefined) {
      return sendError(res, {
        status: 404,
        type: 'invalid_request_error',
        code: 'unknown_url',
        message: 'The admin API is not reachable through this data plane.',
      });
    }
    // A body the control plane refuses anyway (413) is refused here, before a byte of it is sent:
    // forwarded, the control plane answered while the upload still ran and closed the connection,
    // and the client got a 502 in place of its 413.
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > ADMIN_MAX_BODY_BYTES && !req.url?.startsWith('/graphql')) {
      req.resume();
      return sendError(res, {
        status: 413,
        type: 'invalid_request_error',
        code: 'body_too_large',
        message: `request body exceeds ${ADMIN_MAX_BODY_BYTES} bytes`,
        headers: { connection: 'close' },
      });
    }
    adminProxy.web(req, res, { target: opts.controlPlaneUrl });
  }

  async function route(req: IncomingMessage, res: ServerResponse) {
    const startedMs = now();
    // Always our own id: it keys settlement idempotency, so a client-chosen id could replay one
    // settlement to make later requests free.
    const requestId = `req_${randomUUID().replaceAll('-', '')}`;
    res.setHeader('x-request-id', requestId);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const endpoint0 = endpointOf(path);
    // Read now: a forwarded request's headers are replaced by the upstream's before it finishes.
    const clientId = req.headers['x-request-id'];
    // `close`, not `finish`: an answer that never completes (its client left, its upstream cut it,
    // a stop cut it) has no `finish`, and must be counted and logged all the same.
    res.once('close', () => {
      const complete = res.writableFinished;
      const code = complete ? errorCodeOf(res) : undefined;
      // Admin answers relayed from the control plane carry its own codes.
      const reason = !complete
        ? 'incomplete'
        : code === undefined && endpoint0 === 'admin' && res.statusCode >= 400
          ? 'control_plane'
          : reasonOf(res.statusCode, code);
      // Cut before its head went out, the client saw no status: 499 as in the usage record.
      const status = complete || res.headersSent ? res.statusCode : 499;
      const ms = Math.max(0, now() - startedMs);
      metrics.request(endpoint0, status, reason, ms / 1000);
      if (endpoint0 === 'ops') return;
      log.info('request', {
        requestId,
        clientRequestId: clientRequestId(clientId),
        method: req.method,
        path: endpoint0 === 'other' ? path.slice(0, 200) : path,
        status,
        reason,
        code: code ?? undefined,
        ms,
      });
    });
    const endpoint = ENDPOINTS.get(path);
    if (endpoint !== undefined) {
      // Anthropic's SDK reads its request id from `request-id` (`_request_id`, err.requestID).
      if (endpoint.kind === 'messages') res.setHeader('request-id', requestId);
      if (req.method !== 'POST') {
        return sendError(res, {
          status: 405,
          type: 'invalid_request_error',
          code: 'method_not_allowed',
          message: `${path} accepts POST only.`,
        });
      }
      handling += 1;
      return handleModelRequest(modelDeps, req, res, endpoint, requestId, startedMs).finally(() => {
        handling -= 1;
      });
    }
    if ((path === '/v1/models' || path.startsWith('/v1/models/')) && req.method === 'GET') {
      const at = now();
      const rates = (chain: KeyChain) => currentRates({ limiter }, chain, at);
      const one = path === '/v1/models' ? undefined : modelIdOf(path);
      // A key minted moments ago: its policy may still be on its way (as for model requests).
      const held = holder.current();
      const keyHash = bearerHash(req);
      const policy =
        held !== null && keyHash !== null
          ? ((await policyKnowing(held, keyHash, req, modelDeps)) ?? held)
          : held;
      return answerOwnModels(req, res, policy, at, opts.upstreams, rates, one);
    }
    if (path === '/healthz') return sendJson(res, 200, { ok: true });
    if (path === '/readyz') {
      return answerReadiness(res, holder, opts.bus.ping, opts.limiterDown === 'fail-open');
    }
    if (path === '/metrics' && req.method === 'GET') {
      return answerMetrics(req, res, metrics.registry, opts.metricsToken);
    }
    if (path === '/v1/usage') {
      // The customer's own usage, answered by the control plane; its rate limits as they stand
      // (SPEC §6: on every answer) come from here, for a key that authenticates.
      const at = now();
      const policy = holder.current();
      const caller = policy === null ? undefined : callerOf(req, policy, at);
      if (caller !== undefined && (caller.d.ok || caller.d.status !== 401)) {
        const headers = await currentRates({ limiter }, caller.chain, at);
        for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
      }
      return toControlPlane(req, res);
    }
    if (isAdminPath(path)) return toControlPlane(req, res);
    sendError(res, {
      status: 404,
      type: 'invalid_request_error',
      code: 'unknown_url',
      message: `Unknown request URL: ${req.method} ${path}.`,
    });
  }

  // Once stopping, keep-alive connections still carrying requests are closed after their response
  // (and idle ones swept), or steady traffic on reused sockets would hold stop() open forever.
  // A connection marked here closes after the answer it is writing; a request that arrives on it
  // meanwhile (a pooled client reusing it, or pipelining) could never be answered there.
  const closing = new WeakSet<Socket>();
  const closeAfter = (res: ServerResponse) => {
    closing.add(res.req.socket);
    if (!res.headersSent) res.setHeader('connection', 'close');
    res.once('finish', () => res.req.socket.end());
  };
  const server = createServer({ maxHeaderSize: opts.maxHeaderBytes ?? 16 * 1024 }, (req, res) => {
    if (stopping) {
      if (closing.has(req.socket)) {
        // Left unread and unanswered, neither forwarded nor billed: the client sees its connection
        // close without an answer — what a closing keep-alive connection means in HTTP/1.1 — and
        // retries it on a new one (another replica). Forwarded, it was served and billed into a
        // connection that closed mid-answer.
        log.debug('request left unanswered: its connection closes after the answer before it');
        req.resume();
        return;
      }
      closeAfter(res);
    }
    route(req, res).catch((err) => {
      log.error('request failed', { err: String(err) });
      sendError(res, { status: 500, type: 'server_error', code: null, message: 'Internal error.' });
    });
  });

  server.on('clientError', answerClientError);
  // Open connections, so a stop can tell the answer each one is writing to close it. Tracked per
  // connection, not per request: a per-request set kept every request's objects alive across
  // young-generation GCs (−20 % throughput at c50, p99 ×3; bench A/B).
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // GraphQL subscriptions (graphql-ws) through this port too: the upgrade goes to the control plane.
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '/').split('?')[0];
    if (opts.controlPlaneUrl === undefined || path !== '/graphql' || stopping) {
      socket.destroy();
      return;
    }
    adminProxy.ws(req, socket, head, { target: opts.controlPlaneUrl });
  });

  return {
    server,
    async start(port, host = '127.0.0.1') {
      await holder.start();
      // A plane that cannot open the policy's provider keys would answer 502 to every request
      // needing one while saying it is ready: refused here, with one line naming the variable.
      try {
        checkSecretKey(holder.current(), opts.secretKey);
      } catch (err) {
        await holder.stop();
        throw err;
      }
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      return (server.address() as AddressInfo).port;
    },
    async stop() {
      stopping = true;
      // Requests already running: their answers say `connection: close` (else a pooled client
      // sends its next request on a connection that is about to close) and close it after them.
      // `_httpMessage` is the answer a connection is writing (Node's, long stable).
      for (const socket of sockets) {
        const res = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
        if (res != null && !res.writableEnded) closeAfter(res);
      }
      const sweep = setInterval(() => server.closeIdleConnections(), 50);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const drainMs = opts.drainTimeoutMs ?? 25_000;
      let deadline: NodeJS.Timeout | undefined;
      const inTime = await Promise.race([
        closed.then(() => true),
        new Promise<boolean>((resolve) => {
          deadline = setTimeout(() => resolve(false), drainMs);
        }),
      ]);
      clearTimeout(deadline);
      if (!inTime) {
        // Past the deadline an orchestrator kills the process, and with it every running
        // request's settlement and usage: cut them now, each billed for what it was served.
        cutting = true;
        log.warn('drain deadline passed: cutting the requests still running', {
          connections: sockets.size,
          drainTimeoutMs: drainMs,
        });
        for (const socket of sockets) socket.destroy();
        await closed;
      }
      clearInterval(sweep);
      // A closed connection's request ends turns later (its upstream's abort is reported on a
      // later turn): wait until every request handled has ended and started to settle — else the
      // process exits with their usage never made. Bounded, should one never end.
      const ended = Date.now() + SETTLE_AFTER_CLOSE_MS;
      while ((handling > 0 || forwarder.running() > 0) && Date.now() < ended) {
        await new Promise((r) => setTimeout(r, 10));
      }
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      holds?.stop();
      forwarder.close();
      adminProxy.close();
      await holder.stop();
      return { undeliveredUsage: await emitter.stop() };
    },
    metrics,
    policyRevision: holder.revision,
    refreshPolicy: holder.refresh,
    async flushUsage() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      await emitter.flush();
    },
  };
}
