import type { ServerResponse } from 'node:http';

/**
 * The OpenAI error envelope of SPEC §6: `{ "error": { message, type, code, param, ...extra } }`.
 * Every refusal of the data plane goes through here, so the shape cannot drift between paths.
 */
export interface ErrorSpec {
  status: number;
  type: string;
  code: string | null;
  message: string;
  param?: string | null;
  /** Extra fields inside `error` (`scope`, `cap_cents`, `allowed_models`, …). */
  extra?: Record<string, unknown>;
  headers?: Record<string, string>;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) {
    if (!res.writableEnded) res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** The error code each refused response carried (metrics and logs read it when the answer ends):
 * a symbol property of the response rather than a WeakMap entry, which would keep the response
 * alive across young-generation GCs until a full GC. */
const CODE = Symbol('tollgate.errorCode');
type CodeCarrier = ServerResponse & { [CODE]?: string | null };

/** The `error.code` this response was refused with; undefined when it was not refused by us. */
export function errorCodeOf(res: ServerResponse): string | null | undefined {
  return (res as CodeCarrier)[CODE];
}

export function sendError(res: ServerResponse, spec: ErrorSpec): void {
  (res as CodeCarrier)[CODE] = spec.code;
  const error = {
    message: spec.message,
    type: spec.type,
    code: spec.code,
    param: spec.param ?? null,
    ...spec.extra,
  };
  sendJson(res, spec.status, { error }, spec.headers);
}

/** 400 invalid_request_error; `param` names the offending field when there is one. */
export function badRequest(
  message: string,
  param: string | null = null,
  code: string | null = null,
) {
  return { status: 400, type: 'invalid_request_error', code, message, param } satisfies ErrorSpec;
}
