import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * `/metrics` is open unless TOLLGATE_METRICS_TOKEN is set; then it takes `Authorization: Bearer
 * <token>`, compared in constant time over equal-length digests.
 */
export function metricsAuthorized(req: IncomingMessage, token: string | undefined): boolean {
  if (token === undefined || token === '') return true;
  const given = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
  if (given === undefined) return false;
  return timingSafeEqual(digest(given), digest(token));
}

const CLIENT_ERRORS: Record<string, [number, string, string, string]> = {
  HPE_HEADER_OVERFLOW: [
    431,
    'Request Header Fields Too Large',
    'headers_too_large',
    'The request line and headers exceed the size limit.',
  ],
  ERR_HTTP_REQUEST_TIMEOUT: [
    408,
    'Request Timeout',
    'request_timeout',
    'The request was not received in time.',
  ],
};

/**
 * A request node's HTTP parser refused (malformed or smuggling-shaped framing, bad header bytes,
 * oversized head) is answered in the API's error envelope and the connection closed, instead of
 * node's bare `400 Bad Request`. Nothing of such a request reaches a handler.
 */
export function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, reason, code, message] = CLIENT_ERRORS[err.code ?? ''] ?? [
    400,
    'Bad Request',
    'malformed_request',
    'The request is not valid HTTP/1.1 (framing, header syntax or encoding).',
  ];
  const body = JSON.stringify({
    error: { message, type: 'invalid_request_error', code, param: null },
  });
  // An id like every other answer's (SPEC §6), though no request was ever parsed.
  const id = `req_${randomUUID().replaceAll('-', '')}`;
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nx-request-id: ${id}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
