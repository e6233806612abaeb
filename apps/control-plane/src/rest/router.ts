import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventHub } from '../events/hub.ts';
import { type Authenticator, authorize } from '../lib/authz.ts';
import { type ClientAddress, loopbackClientAddress } from '../lib/client-address.ts';
import { isUnknownField } from '../lib/validation.ts';
import type { ProviderKeyDeps } from '../services/provider-keys.ts';
import type { WebhookDeps } from '../services/webhooks.ts';
import {
  fieldOf,
  HttpError,
  RequestAbandoned,
  readJsonObject,
  sendError,
  sendJson,
  toHttpError,
} from './http.ts';
import type { Route } from './route.ts';
import { ROUTES } from './routes/index.ts';

export interface RestDeps extends WebhookDeps, ProviderKeyDeps {
  authenticator: Authenticator;
  /** Whom a request's failed authentications count against (default: `x-forwarded-for` believed
   * from loopback peers only, TOLLGATE_TRUSTED_PROXIES). */
  clientAddress?: ClientAddress;
  /** Live events for GraphQL subscriptions; without it, subscriptions answer SERVICE_UNAVAILABLE. */
  events?: EventHub;
  log: (level: 'error' | 'info' | 'debug', msg: string, fields?: Record<string, unknown>) => void;
}

interface Compiled {
  route: Route;
  pattern: RegExp;
  names: string[];
  /** The names of `:name*` params, URL-decoded before the route sees them. */
  decoded: Set<string>;
}

const ID_SEGMENT = '([A-Za-z0-9_-]{1,100})';
/** `:name*`, last in a path: the rest of it, slashes included (a trailing slash left out). */
const REST_OF_PATH = '(.{1,400}?)';

function compile(routes: Route[]): Compiled[] {
  return routes.map((route) => {
    const names: string[] = [];
    const decoded = new Set<string>();
    const source = route.path.replace(/:([A-Za-z]+)(\*?)/g, (_, name: string, rest: string) => {
      names.push(name);
      if (rest === '') return ID_SEGMENT;
      decoded.add(name);
      return REST_OF_PATH;
    });
    return { route, pattern: new RegExp(`^${source}/?$`), names, decoded };
  });
}

/** A `:name*` param as given, `%2F` and the like decoded; a malformed escape is a 400. */
function decodeParam(name: string, raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    const message = `'${name}' is not a valid URL-encoded path`;
    throw new HttpError(400, 'invalid_request_error', 'validation_error', message, name);
  }
}

/**
 * The REST façade of SPEC §4. Returns false when no route matches the path (the caller answers
 * 404). Every route authenticates, authorizes through the one `authorize()`, then calls a service.
 */
export function createRestHandler(deps: RestDeps) {
  const compiled = compile(ROUTES);
  const clientAddress = deps.clientAddress ?? loopbackClientAddress;
  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> => {
    const matches = compiled
      .map((c) => ({ c, m: c.pattern.exec(url.pathname) }))
      .filter((x): x is Match => x.m !== null);
    if (matches.length === 0) return false;
    try {
      const hit = forMethod(matches, req.method, url.pathname);
      const principal = await deps.authenticator.authenticate(
        req.headers.authorization,
        clientAddress(req),
      );
      const caller = authorize(principal, hit.c.route.action);
      const params = Object.fromEntries(
        hit.c.names.map((n, i) => {
          const raw = hit.m[i + 1]!;
          return [n, hit.c.decoded.has(n) ? decodeParam(n, raw) : raw];
        }),
      );
      const query = queryOf(url);
      if (hit.c.route.query !== true) {
        const [name] = url.searchParams.keys();
        if (name !== undefined) {
          const message = `unknown query parameter '${name}'`;
          throw new HttpError(400, 'invalid_request_error', 'validation_error', message, name);
        }
      }
      const bodyless = req.method === 'GET' || req.method === 'DELETE';
      const body = () => readJsonObject(req, bodyless || hit.c.route.optionalBody === true);
      const answer = await hit.c.route.handle({ deps, caller, params, query, body, res });
      if (answer) sendJson(res, answer[0], answer[1]);
    } catch (err) {
      answerError(deps, res, url, unknownQueryParameter(err, url) ?? err);
    }
    return true;
  };
}

type Match = { c: Compiled; m: RegExpExecArray };

/** The route of the request's method among those matching the path, else 405 with `allow`. */
function forMethod(matches: Match[], method: string | undefined, path: string): Match {
  const hit = matches.find((x) => x.c.route.method === method);
  if (hit) return hit;
  const allow = matches.map((x) => x.c.route.method).join(', ');
  throw new HttpError(
    405,
    'invalid_request_error',
    'method_not_allowed',
    `use ${allow} on ${path}`,
    null,
    {
      allow,
    },
  );
}

/**
 * Query parameters as input fields (fieldOf: snake_case names camelCased, any other kept as sent,
 * to be refused as unknown); a parameter given twice is refused. Built by Object.fromEntries and
 * compared by name only: `__proto__` and `constructor` are parameters like any other.
 */
function queryOf(url: URL): Record<string, string> {
  const seen = new Set<string>();
  const fields: [string, string][] = [];
  for (const [k, v] of url.searchParams) {
    const field = fieldOf(k);
    if (seen.has(field)) {
      const message = `query parameter '${k}' given twice`;
      throw new HttpError(400, 'invalid_request_error', 'validation_error', message, k);
    }
    seen.add(field);
    fields.push([field, v]);
  }
  return Object.fromEntries(fields);
}

/** A service's "unknown field" that came from the query string, named as the client sent it. */
function unknownQueryParameter(err: unknown, url: URL): HttpError | null {
  if (!isUnknownField(err)) return null;
  const name = [...url.searchParams.keys()].find((k) => fieldOf(k) === err.field);
  if (name === undefined) return null;
  const message = `unknown query parameter '${name}'`;
  return new HttpError(400, 'invalid_request_error', 'validation_error', message, name);
}

function answerError(deps: RestDeps, res: ServerResponse, url: URL, err: unknown) {
  // The client hung up (or broke the framing) mid-body: no one to answer, no fault of ours.
  if (err instanceof RequestAbandoned) {
    deps.log('debug', 'admin request abandoned by the client', {
      path: url.pathname,
      error: String(err.cause),
    });
    res.destroy();
    return;
  }
  // A streamed answer that failed midway cannot carry an error envelope: cut it short.
  if (res.headersSent) {
    deps.log('error', 'streamed answer failed', { path: url.pathname, error: String(err) });
    res.destroy();
    return;
  }
  const httpErr = toHttpError(err);
  if (httpErr?.code === 'database_unavailable') {
    deps.log('error', 'database unavailable', { path: url.pathname, error: String(err) });
  }
  if (httpErr) return sendError(res, httpErr);
  deps.log('error', 'unexpected error in REST handler', {
    path: url.pathname,
    error: String((err as Error)?.stack ?? err),
  });
  sendError(res, new HttpError(500, 'server_error', 'internal_error', 'internal error'));
}
