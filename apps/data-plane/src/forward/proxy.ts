import { Agent as HttpAgent, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { isIP, type LookupFunction, type NetConnectOpts } from 'node:net';
import {
  isPrivateAddress,
  privateAddressError,
  publicOnlyLookup,
} from '@tollgate/policy/private-address';
import { estimateTokensFromText } from '@tollgate/pricing';
import { createProxyServer } from 'http-proxy-3';
import type { Flight, Outcome } from '../flight.ts';
import { type ErrorSpec, sendError } from '../http/errors.ts';
import type { Translated } from '../providers/anthropic/messages-to-chat.ts';
import { isRecord, type StreamReader } from '../providers/types.ts';
import { bodySource } from './body-source.ts';
import { clientGone, cutAnswer, type Live, outcome, streamedSoFar } from './live.ts';
import { providerError } from './provider-error.ts';
import { MAX_RETRIES, RETRY_BASE_MS, RETRY_CODES, retryDelayMs } from './retry.ts';
import { relayStream } from './stream-relay.ts';
import { keepTail, usageFromTail } from './usage-tail.ts';

/**
 * Forwarding with http-proxy-3 (ENVIRONMENT.md, "Proxying"): the rewritten body is sent through
 * `buffer`, and every answer is handled here (`selfHandleResponse`). JSON answers are read whole
 * (their usage is at the end); event streams pass through event by event while a tap reads text
 * and usage, strips the usage chunk the client did not ask for, and ends the stream when its
 * estimated cost passes the reservation.
 */
export interface ForwardJob {
  flight: Flight;
  /** Full upstream URL of the endpoint. */
  target: string;
  apiKey: string | null;
  body: Buffer;
  /** `stream_options.include_usage` was injected: its chunk is not the client's to see. */
  stripUsage: boolean;
  /** The client asked for the usage chunk itself (`stream_options.include_usage`). */
  clientWantsUsage?: boolean;
  /** Added to every answer (x-request-id, x-ratelimit-*). */
  responseHeaders: Record<string, string>;
  /** Whether output of this many (estimated) tokens would cost more than was reserved. */
  overBudget(outputTokens: number): boolean;
  /** Upstream credentials as headers (default: `authorization: Bearer <apiKey>`). */
  upstreamHeaders?: Record<string, string>;
  /** The upstream speaks another wire format than the client: its JSON answer translated. */
  translateJson?: (json: unknown) => Translated;
  /** A reader translating (or reading with state) the upstream's event stream. */
  streamReader?: () => StreamReader;
  /** The client's error for an upstream error status (default: passed through or 502). */
  errorOf?: (status: number, body: Buffer | null) => ErrorSpec;
  /** The target is a workspace's own base URL (BYOK): connected through agents refusing
   * non-public addresses, unless {@link ForwarderOptions.allowPrivateUpstreams}. */
  guarded?: boolean;
}

export interface ForwarderOptions {
  timeoutMs: number;
  /** Most sockets open to one upstream host (in use + idle kept alive). Default 512. */
  maxSocketsPerHost?: number;
  finish: (flight: Flight, outcome: Outcome) => Promise<void>;
  now: () => number;
  /** Upstream retries on 429/5xx or a lost connection, before anything reached the client. */
  retry?: { max?: number; baseDelayMs?: number };
  /** Guarded targets (workspace base URLs) may be loopback/private/link-local addresses
   * (TOLLGATE_ALLOW_PRIVATE_UPSTREAMS). Default false. */
  allowPrivateUpstreams?: boolean;
  /** A JSON answer larger than this is relayed as it comes instead of read whole (its usage found
   * in its last bytes). Default 64 MiB. */
  maxJsonBytes?: number;
  /** True once a stop's drain deadline passed: an answer whose connection closes then was cut by
   * the gateway (`shutdown`), not left by its client. */
  cutting?: () => boolean;
}

const LIVE = Symbol('tollgate.live');
type LiveCarrier = IncomingMessage & { [LIVE]?: Live };

/** Upstream 4xx whose OpenAI envelope is the client's business (bad parameter and the like). */
const PASS_THROUGH = new Set([400, 404, 409, 413, 422, 429]);

/** `body` with every occurrence of `secret` (the upstream credential) replaced. */
export function withoutSecret(body: Buffer, secret: string | null): Buffer {
  if (secret === null || secret.length < 8 || body.indexOf(secret) === -1) return body;
  return Buffer.from(body.toString('utf8').replaceAll(secret, '[redacted]'));
}
/** Request headers worth passing to a provider; everything else (cookies, our key) stays here. */
const FORWARDED = ['accept', 'user-agent', 'openai-beta', 'anthropic-beta', 'idempotency-key'];

export function createForwarder(opts: ForwarderOptions) {
  const proxy = createProxyServer({
    selfHandleResponse: true,
    ignorePath: true,
    changeOrigin: true,
  });
  // The request's Live rides on the request itself (a symbol property), not in a WeakMap: under
  // steady load a WeakMap kept every request's graph alive across young-generation GCs until a
  // full GC (see bench/RESULTS.md, "the c1 p99 tail").
  const lives = {
    get: (req: IncomingMessage): Live | undefined => (req as LiveCarrier)[LIVE],
    set: (req: IncomingMessage, live: Live) => {
      (req as LiveCarrier)[LIVE] = live;
    },
  };
  // Keep-alive to the upstreams (without an agent http-proxy-3 opens a connection per request and
  // sends `connection: close`). Bounded per host. Idle sockets close after 4 s — below the common
  // 5 s server default (Node, uvicorn), so a request is not sent on a socket the upstream is closing
  // (an advertised shorter Keep-Alive timeout is honoured by Node); the request's own timeout
  // (proxyTimeout) replaces it while in use. A client that leaves or a cut stream destroys its
  // upstream request, so such a socket is never reused.
  const agentOpts = {
    keepAlive: true,
    maxSockets: opts.maxSocketsPerHost ?? 512,
    maxFreeSockets: 64,
    scheduling: 'lifo' as const,
    timeout: 4_000,
  };
  const maxJsonBytes = opts.maxJsonBytes ?? 64 * 1024 * 1024;
  const httpAgent = new HttpAgent(agentOpts);
  const httpsAgent = new HttpsAgent(agentOpts);
  // Workspace base URLs get agents of their own that check every address they connect to (at
  // connect time, so a name re-pointed inside after registration is refused too).
  const allowPrivate = opts.allowPrivateUpstreams ?? false;
  const guardedHttpAgent = allowPrivate ? httpAgent : publicOnly(new HttpAgent(agentOpts));
  const guardedHttpsAgent = allowPrivate ? httpsAgent : publicOnly(new HttpsAgent(agentOpts));
  const agentFor = (job: ForwardJob) =>
    job.target.startsWith('https:')
      ? job.guarded
        ? guardedHttpsAgent
        : httpsAgent
      : job.guarded
        ? guardedHttpAgent
        : httpAgent;

  // Forwarded requests whose end has not been seen: a stop waits for them to settle (a cut
  // connection's end arrives turns after the socket closed, through the upstream's abort).
  const running = new Set<Live>();
  const end = (live: Live, o: Outcome) => {
    if (live.ended) return;
    live.ended = true;
    running.delete(live);
    void opts.finish(live.job.flight, o);
  };

  proxy.on('proxyReq', (proxyReq, req) => {
    const live = lives.get(req);
    if (live === undefined) return;
    live.proxyReq = proxyReq;
    proxyReq.on('timeout', () => {
      live.timedOut = true;
    });
  });

  proxy.on('proxyRes', (proxyRes, req, res) => {
    const live = lives.get(req);
    if (live === undefined) return;
    const status = proxyRes.statusCode ?? 502;
    const type = String(proxyRes.headers['content-type'] ?? '');
    if ((status === 429 || status >= 500) && retry(live, req, res, proxyRes.headers)) {
      proxyRes.resume(); // drained, so the socket goes back to the pool
      return;
    }
    if (status >= 400) upstreamError(live, proxyRes, res, status);
    else if (type.includes('text/event-stream'))
      relayStream(live, proxyRes, res, status, streamDeps);
    else relayJson(live, proxyRes, res, status, type);
  });

  const streamDeps = { now: opts.now, end };

  // Errors are handled per call (the callback of web()); this only keeps the emitter from throwing.
  proxy.on('error', () => {});

  function collect(proxyRes: IncomingMessage, limit: number, done: (body: Buffer | null) => void) {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    proxyRes.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      else chunks.push(c);
    });
    proxyRes.on('end', () => done(over ? null : Buffer.concat(chunks)));
  }

  function upstreamError(
    live: Live,
    proxyRes: IncomingMessage,
    res: ServerResponse,
    status: number,
  ) {
    collect(proxyRes, 64 * 1024, (raw) => {
      // An upstream that echoes the credential it was sent must not hand it to the client.
      const body = raw === null ? null : withoutSecret(raw, live.job.apiKey);
      const errorClass = status >= 500 ? 'upstream_error' : `upstream_${status}`;
      // The provider's Retry-After (a 429 after our own retries) tells the client when to come back
      // (1 s when it gave none: SPEC §6, every 429 carries one); its x-ratelimit-* describe the
      // platform's account, not this client: not passed.
      const retryAfter = proxyRes.headers['retry-after'];
      const withRetryAfter = (spec: ErrorSpec): ErrorSpec => {
        const after: Record<string, string> =
          spec.status !== 429
            ? {}
            : { 'retry-after': typeof retryAfter === 'string' ? retryAfter : '1' };
        return { ...spec, headers: { ...after, ...live.job.responseHeaders } };
      };
      if (live.job.errorOf !== undefined) {
        const spec = live.job.errorOf(status, body);
        sendError(res, withRetryAfter(spec));
        end(
          live,
          outcome({ status: 'error', errorClass, httpStatus: spec.status, upstreamStatus: status }),
        );
        return;
      }
      if (PASS_THROUGH.has(status) && body !== null) {
        sendError(res, withRetryAfter(providerError(status, body)));
      } else {
        sendError(res, {
          status: 502,
          type: 'upstream_error',
          code: 'upstream_error',
          message: `The provider answered ${status}.`,
          extra: { provider_status: status },
          headers: live.job.responseHeaders,
        });
      }
      const httpStatus = PASS_THROUGH.has(status) ? status : 502;
      end(live, outcome({ status: 'error', errorClass, httpStatus, upstreamStatus: status }));
    });
  }

  function relayJson(
    live: Live,
    proxyRes: IncomingMessage,
    res: ServerResponse,
    status: number,
    type: string,
  ) {
    const { endpoint } = live.job.flight;
    const ttftMs = opts.now() - live.job.flight.startedMs;
    const chunks: Buffer[] = [];
    let size = 0;
    // Past maxJsonBytes (2048 embeddings can pass 100 MB) the answer is relayed as it comes, and
    // its usage read from its last bytes; a translated one cannot be, and is refused.
    let passing = false;
    let tail: Buffer = Buffer.alloc(0);
    proxyRes.on('data', (c: Buffer) => {
      if (passing) {
        tail = keepTail(tail, c);
        if (!res.write(c)) {
          proxyRes.pause();
          res.once('drain', () => proxyRes.resume());
        }
        return;
      }
      size += c.length;
      if (size > maxJsonBytes && live.job.translateJson !== undefined) {
        chunks.length = 0; // refused at its end: nothing of it kept meanwhile
        return;
      }
      chunks.push(c);
      if (size <= maxJsonBytes) return;
      passing = true;
      const length = proxyRes.headers['content-length'];
      res.writeHead(status, {
        'content-type': type || 'application/json',
        ...(length === undefined ? {} : { 'content-length': length }),
        ...live.job.responseHeaders,
      });
      for (const chunk of chunks) tail = keepTail(tail, chunk);
      res.write(Buffer.concat(chunks));
      chunks.length = 0;
    });
    proxyRes.on('end', () => {
      if (passing) {
        res.end();
        const usage = endpoint.usageOf({ usage: usageFromTail(tail) });
        end(live, outcome({ status: 'ok', httpStatus: status, usage, served: true, ttftMs }));
        return;
      }
      if (size > maxJsonBytes) {
        sendError(res, {
          status: 502,
          type: 'upstream_error',
          code: 'upstream_error',
          message: `The provider's answer is larger than ${maxJsonBytes} bytes.`,
          extra: { provider_status: status },
          headers: live.job.responseHeaders,
        });
        end(
          live,
          outcome({
            status: 'error',
            errorClass: 'upstream_error',
            httpStatus: 502,
            served: false,
            promptSent: true,
          }),
        );
        return;
      }
      const body = Buffer.concat(chunks, size);
      let json: unknown = null;
      try {
        json = JSON.parse(body.toString('utf8'));
      } catch {
        json = null;
      }
      const translated = live.job.translateJson?.(json);
      const data = translated === undefined ? body : Buffer.from(JSON.stringify(translated.body));
      res.writeHead(status, {
        'content-type': type || 'application/json',
        'content-length': data.length,
        ...live.job.responseHeaders,
      });
      res.end(data);
      const usage = translated === undefined ? endpoint.usageOf(json) : translated.usage;
      // The output is estimated from the text only when the provider reported no usage (the
      // estimate is used for nothing else): no scan of every answer's text.
      const estimate = () =>
        estimateTokensFromText(translated === undefined ? endpoint.textOf(json) : translated.text);
      end(
        live,
        outcome({
          status: 'ok',
          httpStatus: status,
          usage,
          served: true,
          outputEstimate: usage === null ? estimate() : 0,
          ttftMs,
          servedModel: isRecord(json) && typeof json.model === 'string' ? json.model : null,
        }),
      );
    });
  }

  function forward(req: IncomingMessage, res: ServerResponse, job: ForwardJob) {
    const live: Live = {
      job,
      proxyReq: null,
      timedOut: false,
      ended: false,
      attempt: 0,
      stream: null,
    };
    lives.set(req, live);
    running.add(live);
    const headers: Record<string, string> = {};
    for (const name of FORWARDED) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    for (const [name, value] of Object.entries(req.headers)) {
      if (name.startsWith('x-stainless-') && typeof value === 'string') headers[name] = value;
    }
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(job.body.length);
    // Identity, so usage can be read from the answer without decompressing it.
    headers['accept-encoding'] = 'identity';
    if (job.upstreamHeaders !== undefined) Object.assign(headers, job.upstreamHeaders);
    else if (job.apiKey !== null) headers.authorization = `Bearer ${job.apiKey}`;
    req.headers = headers;

    res.on('close', () => {
      if (res.writableFinished || live.ended) return;
      // The client left first (or a stop past its drain deadline closed its connection):
      // http-proxy-3 aborts the upstream; bill what was produced.
      const cut = opts.cutting?.() === true;
      end(
        live,
        outcome({
          status: 'error',
          errorClass: cut ? 'shutdown' : 'client_disconnected',
          httpStatus: cut ? (res.headersSent ? res.statusCode : 503) : 499,
          served: res.headersSent,
          // An upstream call in flight (not a retry's backoff): it has the prompt.
          promptSent: live.proxyReq !== null,
          ...streamedSoFar(live),
        }),
      );
    });

    send(req, res, live);
  }

  // Upstream URLs parsed once (http-proxy-3 parses a string target on every call); a handful of
  // distinct endpoints per provider, bounded anyway.
  const targets = new Map<string, URL>();
  const targetUrl = (href: string): URL => {
    let url = targets.get(href);
    if (url === undefined) {
      if (targets.size >= 1_000) targets.clear();
      url = new URL(href);
      targets.set(href, url);
    }
    return url;
  };

  const maxRetries = opts.retry?.max ?? MAX_RETRIES;
  const baseDelayMs = opts.retry?.baseDelayMs ?? RETRY_BASE_MS;

  /**
   * Calls the upstream again when nothing reached the client yet and it is still there: same
   * body, same reservation (no second admission), counted on the flight. False when not retried.
   */
  function retry(
    live: Live,
    req: IncomingMessage,
    res: ServerResponse,
    headers: IncomingMessage['headers'] | null,
  ): boolean {
    if (live.ended || res.headersSent || res.destroyed || live.attempt >= maxRetries) return false;
    const delay = retryDelayMs(live.attempt + 1, headers, baseDelayMs, opts.now());
    if (delay === null) return false;
    live.attempt += 1;
    live.job.flight.retries = live.attempt;
    live.proxyReq = null;
    live.timedOut = false;
    const attempt = live.attempt;
    setTimeout(() => {
      // The client left meanwhile: its close already settled the flight (nothing was served).
      if (live.ended || live.attempt !== attempt || res.destroyed) return;
      send(req, res, live);
    }, delay).unref();
    return true;
  }

  function send(req: IncomingMessage, res: ServerResponse, live: Live) {
    const { job } = live;
    const attempt = live.attempt;
    proxy.web(
      req,
      res,
      {
        target: targetUrl(job.target),
        agent: agentFor(job),
        buffer: bodySource(job.body),
        proxyTimeout: opts.timeoutMs,
      },
      (err) => {
        if (live.ended || live.attempt !== attempt) return;
        // The client's connection closed first (http-proxy-3 aborted the upstream for it): the
        // answer's own close settles it (client gone, or a stop's cut).
        if (clientGone(res)) return;
        if (res.headersSent) {
          // Lost mid-answer: the client's answer is cut too, never ended as if complete.
          cutAnswer(res);
          end(
            live,
            outcome({
              status: 'error',
              errorClass: 'upstream_cut',
              httpStatus: res.statusCode,
              served: true,
              ...streamedSoFar(live),
            }),
          );
          return;
        }
        const timeout = live.timedOut;
        const code = (err as NodeJS.ErrnoException | undefined)?.code;
        // Lost after the whole request was written: the upstream had the prompt.
        const delivered = live.proxyReq?.writableFinished === true;
        if (
          !timeout &&
          code !== undefined &&
          RETRY_CODES.has(code) &&
          retry(live, req, res, null)
        ) {
          if (delivered) job.flight.lostPrompts = (job.flight.lostPrompts ?? 0) + 1;
          return;
        }
        sendError(res, {
          status: timeout ? 504 : 502,
          type: timeout ? 'upstream_timeout' : 'upstream_error',
          code: timeout ? 'upstream_timeout' : 'upstream_error',
          message: timeout
            ? 'The provider did not answer in time.'
            : 'The provider could not be reached.',
          headers: job.responseHeaders,
        });
        const errorClass = timeout ? 'upstream_timeout' : 'upstream_error';
        const httpStatus = timeout ? 504 : 502;
        // Timed out, or the connection was lost after the whole request was written: the upstream
        // had the prompt (a connection that could not be made did not).
        const promptSent = timeout || delivered;
        end(live, outcome({ status: 'error', errorClass, httpStatus, promptSent }));
      },
    );
  }

  return {
    forward,
    running: () => running.size,
    close() {
      proxy.close();
      for (const agent of new Set([httpAgent, httpsAgent, guardedHttpAgent, guardedHttpsAgent]))
        agent.destroy();
    },
  };
}

type ConnectionFactory = (
  options: NetConnectOpts & { host?: string },
  callback: (err: Error | null, socket?: unknown) => void,
) => unknown;

/**
 * Makes `agent` refuse non-public addresses: names are resolved through a lookup that fails on any
 * private, loopback or link-local answer; IP literals (which no lookup sees) are checked here. A
 * refusal is a connection error (502 `upstream_error`, never retried); nothing is sent.
 */
function publicOnly<A extends HttpAgent>(agent: A): A {
  const carrier = agent as unknown as { createConnection: ConnectionFactory };
  const create = carrier.createConnection.bind(agent);
  carrier.createConnection = (options, callback) => {
    const host = String(options.host ?? 'localhost').replace(/^\[|\]$/g, '');
    if (isIP(host) !== 0 && isPrivateAddress(host)) {
      callback(privateAddressError(host, host));
      return undefined;
    }
    return create({ ...options, lookup: publicOnlyLookup as LookupFunction }, callback);
  };
  return agent;
}
