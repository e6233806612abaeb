import { createHmac } from 'node:crypto';
import { ValidationError } from '../lib/errors.ts';
import { safeEqual } from '../lib/ids.ts';

/**
 * Opaque, signed list cursors: `<payload>.<mac>` where payload = base64url(JSON [createdAtMs, id]).
 * The MAC (keyed by the server secret) makes a tampered cursor a clean 400 instead of a strange page.
 */
export interface CursorPosition {
  createdAt: Date;
  id: string;
}

export function encodeCursor(secret: Buffer, pos: CursorPosition): string {
  const payload = Buffer.from(JSON.stringify([pos.createdAt.getTime(), pos.id])).toString(
    'base64url',
  );
  return `${payload}.${mac(secret, payload)}`;
}

export function decodeCursor(secret: Buffer, cursor: string): CursorPosition {
  const [payload, sig, extra] = cursor.split('.');
  if (!payload || !sig || extra !== undefined || !safeEqual(sig, mac(secret, payload))) {
    throw new ValidationError('cursor is invalid', 'cursor');
  }
  const parsed: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  if (!Array.isArray(parsed) || typeof parsed[0] !== 'number' || typeof parsed[1] !== 'string') {
    throw new ValidationError('cursor is invalid', 'cursor');
  }
  return { createdAt: new Date(parsed[0]), id: parsed[1] };
}

function mac(secret: Buffer, payload: string): string {
  return createHmac('sha256', secret).update(`cursor:${payload}`).digest('base64url').slice(0, 22);
}

/** A page of a list a service answers whole by default: rows after a position (a `where` on the
 * list's order columns, which the caller builds from its cursor) and how many. */
export interface ListPage<Where> {
  after?: Where;
  take?: number;
}

export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 200;
