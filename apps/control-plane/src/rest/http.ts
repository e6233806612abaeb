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

/** Reads at most MAX_BODY_BYTES; a larger body is refused with 413 without buffering the rest. */
export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw tooLarge();
    chunks.push(chunk);
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

/** Top-level keys only: nested objects (metadata) are the operator's own and stay as sent. */
export function camelizeKeys(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (/[A-Z]/.test(k)) {
      // A camelCase key on the snake_case API is unknown: keep it distinct so validation names it.
      out[`${k}\u0000`] = v;
      continue;
    }
    out[k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())] = v;
  }
  return out;
}

/** Marks a key the client itself sent in camelCase (see camelizeKeys). */
const MARK = '\u0000';

/** camelCase path → snake_case; a key the client itself sent in camelCase (marked \0) stays as sent. */
export function snake(path: string): string {
  return path
    .split('.')
    .map((part) =>
      part.includes('\u0000')
        ? part.split(MARK).join('')
        : part.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
    )
    .join('.');
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
      snakeMessage(err.message),
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

/** Validation messages name camelCase fields; the REST API speaks snake_case. */
function snakeMessage(message: string): string {
  return message
    .replace(/\b[a-z]+(?:[A-Z][a-z0-9]*)+\b/g, (m: string, offset: number, whole: string) =>
      whole[offset + m.length] === MARK ? m : snake(m),
    )
    .split(MARK)
    .join('');
}

export function sendError(res: ServerResponse, err: HttpError) {
  sendJson(
    res,
    err.status,
    { error: { message: err.message, type: err.type, code: err.code, param: err.param } },
    err.headers,
  );
}
