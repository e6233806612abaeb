import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  DATABASE_RETRY_AFTER_SECONDS,
  DATABASE_UNAVAILABLE_MESSAGE,
  isDatabaseUnavailable,
} from '../lib/db-errors.ts';
import {
  AuthenticationError,
  ConflictError,
  NotFoundError,
  PermissionError,
  TooManyAttemptsError,
  ValidationError,
} from '../lib/errors.ts';
import { AS_SENT, isUnknownField } from '../lib/validation.ts';

export const MAX_BODY_BYTES = 1024 * 1024;

/** A 4xx (or 503) answer in the error envelope of SPEC §6: `{ error: { message, type, code, param } }`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly code: string,
    message: string,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/**
 * The request's body never arrived whole: the client hung up mid-body, or sent framing the HTTP
 * parser refused (the server's `clientError` handler has answered that 400 malformed_request).
 * The connection is gone either way: nothing to answer, and no fault of the server's.
 */
export class RequestAbandoned extends Error {
  override name = 'RequestAbandoned';
  constructor(cause: unknown) {
    super(`request body not received whole (${String(cause)})`, { cause });
  }
}

/** Reads at most MAX_BODY_BYTES; a larger body is refused with 413 without buffering the rest. */
export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) throw tooLarge();
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof HttpError) throw err;
    // Reading a request fails only when its connection does ("aborted", ECONNRESET).
    throw new RequestAbandoned(err);
  }
  return Buffer.concat(chunks);
}

function tooLarge() {
  return new HttpError(
    413,
    'invalid_request_error',
    'body_too_large',
    `request body exceeds ${MAX_BODY_BYTES} bytes`,
  );
}

/** JSON object body (snake_case keys → camelCase). Empty body = `{}` when `optional`. */
export async function readJsonObject(
  req: IncomingMessage,
  optional = false,
): Promise<Record<string, unknown>> {
  const raw = await readBody(req);
  if (raw.length === 0) {
    if (optional) return {};
    throw new HttpError(
      400,
      'invalid_request_error',
      'invalid_json',
      'request body must be a JSON object',
    );
  }
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/(.+\+)?json\b/i.test(type)) {
    throw new HttpError(
      415,
      'invalid_request_error',
      'unsupported_media_type',
      "send 'Content-Type: application/json'",
    );
  }
  const invalid = (message: string) =>
    new HttpError(400, 'invalid_request_error', 'invalid_json', message);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw invalid('request body is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid('request body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new HttpError(
      400,
      'invalid_request_error',
      'invalid_json',
      'request body must be a JSON object',
    );
  }
  return camelizeKeys(parsed as Record<string, unknown>);
}

/** A canonical snake_case name: lower-case words of letters and digits joined by single `_`. */
const SNAKE_CASE = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/;

/**
 * The input field of a snake_case name the client sent (a body key, a query parameter): its
 * camelCase (`default_tag` → `defaultTag`). A name that is not snake_case (`spendCapCents`,
 * `__proto__`, `a\u0000`, `_x`) is no field of any schema: it is kept as sent, marked AS_SENT at
 * its end, so validation refuses it as unknown and the error names it as sent (see snake).
 */
export const fieldOf = (name: string): string =>
  SNAKE_CASE.test(name)
    ? name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())
    : `${name}${AS_SENT}`;

/**
 * Top-level keys only (fieldOf): nested objects (metadata) are the operator's own and stay as
 * sent. Built by Object.fromEntries, so a `__proto__` key is an own key like any other.
 */
export function camelizeKeys(obj: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [fieldOf(k), v]));
}

/**
 * A field path (camelCase, `allowedModels.1`) as the REST API names it: its top-level field in
 * snake_case (`allowed_models.1`), or as the client sent it when marked AS_SENT; what follows
 * (list indices, the operator's metadata keys) stays as sent. Only a top-level key can hold a NUL
 * in a path (validation refuses them in nested keys), so its last one is the mark.
 */
export function snake(path: string): string {
  const mark = path.lastIndexOf(AS_SENT);
  if (mark >= 0) return path.slice(0, mark) + path.slice(mark + 1);
  const dot = path.indexOf('.');
  const top = dot < 0 ? path : path.slice(0, dot);
  return top.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) + (dot < 0 ? '' : path.slice(dot));
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const text = JSON.stringify(body, (_k, v) => (typeof v === 'bigint' ? Number(v) : v));
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Maps any thrown value to the envelope. Unexpected errors are masked (and logged by the caller). */
export function toHttpError(err: unknown): HttpError | null {
  if (err instanceof HttpError) return err;
  if (err instanceof ValidationError) {
    const param = err.field ? snake(err.field) : null;
    return new HttpError(
      400,
      'invalid_request_error',
      'validation_error',
      restMessage(err, param),
      param,
    );
  }
  if (err instanceof NotFoundError)
    return new HttpError(404, 'invalid_request_error', 'not_found', err.message);
  if (err instanceof ConflictError)
    return new HttpError(409, 'invalid_request_error', 'conflict', err.message);
  if (err instanceof AuthenticationError)
    return new HttpError(401, 'invalid_request_error', 'invalid_api_key', err.message);
  if (err instanceof PermissionError)
    return new HttpError(403, 'permission_denied', 'permission_denied', err.message);
  if (err instanceof TooManyAttemptsError) {
    return new HttpError(429, 'rate_limit_exceeded', 'too_many_auth_failures', err.message, null, {
      'retry-after': String(err.retryAfterSeconds),
    });
  }
  if (isDatabaseUnavailable(err)) {
    return new HttpError(
      503,
      'server_error',
      'database_unavailable',
      DATABASE_UNAVAILABLE_MESSAGE,
      null,
      { 'retry-after': String(DATABASE_RETRY_AFTER_SECONDS) },
    );
  }
  return null;
}

/**
 * A validation message in the REST API's terms: the field it starts with named as `param` (see
 * snake), camelCase field names further on in snake_case.
 */
function restMessage(err: ValidationError, param: string | null): string {
  const { message, field } = err;
  if (field && param !== null) {
    if (isUnknownField(err)) return `unknown field '${param}'`;
    const after = message[field.length];
    if (message.startsWith(field) && (after === undefined || after === ' ' || after === ':')) {
      return param + snakeWords(message.slice(field.length));
    }
  }
  return snakeWords(message);
}

/** camelCase words of a message in snake_case (`spendCapCents` → `spend_cap_cents`). */
const snakeWords = (text: string) =>
  text.replace(/\b[a-z]+(?:[A-Z][a-z0-9]*)+\b/g, (m) =>
    m.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
  );

export function sendError(res: ServerResponse, err: HttpError) {
  sendJson(
    res,
    err.status,
    { error: { message: err.message, type: err.type, code: err.code, param: err.param } },
    err.headers,
  );
}
