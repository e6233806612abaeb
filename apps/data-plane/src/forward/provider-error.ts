import type { ErrorSpec } from '../http/errors.ts';
import { isRecord } from '../providers/types.ts';

const ENVELOPE_KEYS = new Set(['message', 'type', 'code', 'param']);

/**
 * A provider's 4xx that is the client's business (a bad parameter, its own rate limit), as SPEC §6
 * wants every error: the OpenAI envelope. The provider's own envelope keeps its message, type, code
 * and further fields (`code` and `param` filled in with null when it left them out); anything else
 * (an HTML page, a bare string) becomes an envelope naming the provider's status.
 */
export function providerError(status: number, body: Buffer): ErrorSpec {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    json = null;
  }
  const error = isRecord(json) && isRecord(json.error) ? json.error : null;
  if (error !== null && typeof error.message === 'string') {
    const extra = Object.fromEntries(Object.entries(error).filter(([k]) => !ENVELOPE_KEYS.has(k)));
    return {
      status,
      type: typeof error.type === 'string' ? error.type : defaultType(status),
      code: typeof error.code === 'string' ? error.code : null,
      param: typeof error.param === 'string' ? error.param : null,
      message: error.message,
      extra,
    };
  }
  return {
    status,
    type: defaultType(status),
    code: `upstream_${status}`,
    message: `The provider refused the request (${status}).`,
    extra: { provider_status: status },
  };
}

function defaultType(status: number): string {
  return status === 429 ? 'rate_limit_exceeded' : 'invalid_request_error';
}
