import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { ValidationError } from '../lib/errors.ts';
import { safeEqual } from '../lib/ids.ts';
import { pageSizeField, parseInput } from '../lib/validation.ts';

/**
 * Opaque, signed list cursors, REST and GraphQL alike: `<payload>.<mac>` where payload =
 * base64url(JSON position) and the MAC (keyed by the server secret) covers the position *and where
 * it is valid* — one list of one workspace (and one parent, e.g. a webhook's deliveries). A cursor
 * that was tampered with, or that comes from another list or workspace, is a clean 400
 * (`ValidationError` on the cursor's parameter): it can never position a page, let alone read
 * another workspace.
 */

/** Where a cursor is valid. */
export interface CursorScope {
  list: string;
  /** `''` for the root key's lists (every workspace). */
  workspaceId: string;
  /** The row the list hangs off (a webhook, a sub-account), if any. */
  parentId?: string;
}

/** A row's place in its list's order: the values of its order-by columns, compared in order. */
export type Position = readonly (string | number)[];
/** The type of each value of a list's positions, checked when a cursor is read back. */
export type PositionShape = readonly ('string' | 'number')[];

function mac(secret: Buffer, scope: CursorScope, payload: string): string {
  const where = [scope.list, scope.workspaceId, scope.parentId ?? ''].map(encodeURIComponent);
  return createHmac('sha256', secret)
    .update(`list-cursor:${where.join(':')}:${payload}`)
    .digest('base64url')
    .slice(0, 22);
}

export function encodeScopedCursor(secret: Buffer, scope: CursorScope, position: Position): string {
  const payload = Buffer.from(JSON.stringify(position)).toString('base64url');
  return `${payload}.${mac(secret, scope, payload)}`;
}

/** The position of a cursor made by encodeScopedCursor for this very scope; anything else is a
 * ValidationError on `param` (the query parameter or argument the cursor came in). */
export function decodeScopedCursor(
  secret: Buffer,
  scope: CursorScope,
  shape: PositionShape,
  cursor: string,
  param: string,
): Position {
  const invalid = () => new ValidationError(`${param} is not a cursor of this list`, param);
  const [payload, sig, extra] = cursor.split('.');
  if (!payload || !sig || extra !== undefined || !safeEqual(sig, mac(secret, scope, payload))) {
    throw invalid();
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  const fits =
    Array.isArray(parsed) &&
    parsed.length === shape.length &&
    shape.every((type, i) => typeof parsed[i] === type);
  if (!fits) throw invalid();
  return parsed as Position;
}

/** Positions `[createdAt ms, id]` of lists in creation order (ties broken by id). */
export const BY_CREATION: PositionShape = ['number', 'string'];

export interface CursorPosition {
  createdAt: Date;
  id: string;
}

/** A REST cursor of a list in creation order (`createdAt`, then `id`). */
export function encodeCursor(secret: Buffer, scope: CursorScope, pos: CursorPosition): string {
  return encodeScopedCursor(secret, scope, [pos.createdAt.getTime(), pos.id]);
}

/** The position of a REST `cursor` query parameter made by encodeCursor for `scope`. */
export function decodeCursor(secret: Buffer, scope: CursorScope, cursor: string): CursorPosition {
  const [ms, id] = decodeScopedCursor(secret, scope, BY_CREATION, cursor, 'cursor');
  return { createdAt: new Date(Number(ms)), id: String(id) };
}

/** A page of a list ordered by one unique column, which a service answers whole by default: rows
 * after a position (a `where` on that column, which the caller builds from its cursor) and how
 * many. Lists ordered by a timestamp and a key page with keyset.ts instead: Prisma's `where` cannot
 * say "after (t, k)" in a form an index answers. */
export interface ListPage<Where> {
  after?: Where;
  take?: number;
}

export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 200;

/**
 * The query of a REST list that takes nothing but `limit` and `cursor` (anything else is refused
 * as an unknown field): the page size and the position, in creation order, it starts after.
 */
export function restListQuery(
  secret: Buffer,
  scope: CursorScope,
  raw: unknown,
  bounds: { default: number; max: number } = { default: DEFAULT_PAGE, max: MAX_PAGE },
): { limit: number; after: CursorPosition | null } {
  const q = parseInput(
    z.strictObject({
      limit: pageSizeField(bounds.max).optional(),
      cursor: z.string().max(500).optional(),
    }),
    raw,
  );
  return {
    limit: q.limit ?? bounds.default,
    after: q.cursor ? decodeCursor(secret, scope, q.cursor) : null,
  };
}
