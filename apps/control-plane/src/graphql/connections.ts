import { createHmac } from 'node:crypto';
import { ValidationError } from '../lib/errors.ts';
import { safeEqual } from '../lib/ids.ts';
import { DEFAULT_PAGE, MAX_PAGE } from '../services/pagination.ts';
import { builder } from './builder.ts';
import type { GraphQLContext } from './context.ts';

/**
 * Relay-style forward pagination for every list of the schema: keyset pages (`take` after the
 * position of the cursor's row, never fetch-all), and opaque cursors `<payload>.<mac>` signed with
 * the server secret *for one list of one workspace* (and one parent, e.g. a webhook's deliveries).
 * A cursor that was tampered with, or that comes from another list or workspace, is refused as a
 * `ValidationError` on `after`: it can never position a page, let alone read another workspace.
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

export interface PageBounds {
  /** Page size when `first` is absent. */
  default: number;
  /** Largest `first` accepted. */
  max: number;
}

export const LIST_PAGE: PageBounds = { default: DEFAULT_PAGE, max: MAX_PAGE };

export interface PageArgs {
  first?: number | null;
  after?: string | null;
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

export interface Connection<T> {
  edges: Edge<T>[];
  pageInfo: {
    hasNextPage: boolean;
    hasPreviousPage: boolean;
    startCursor: string | null;
    endCursor: string | null;
  };
}

const INVALID_CURSOR = 'after is not a cursor of this list';

function mac(secret: Buffer, scope: CursorScope, payload: string): string {
  const where = [scope.list, scope.workspaceId, scope.parentId ?? ''].map(encodeURIComponent);
  return createHmac('sha256', secret)
    .update(`list-cursor:${where.join(':')}:${payload}`)
    .digest('base64url')
    .slice(0, 22);
}

export function encodeListCursor(secret: Buffer, scope: CursorScope, position: Position): string {
  const payload = Buffer.from(JSON.stringify(position)).toString('base64url');
  return `${payload}.${mac(secret, scope, payload)}`;
}

/** The position of a cursor made by encodeListCursor for this very scope; anything else refused. */
export function decodeListCursor(
  secret: Buffer,
  scope: CursorScope,
  shape: PositionShape,
  cursor: string,
): Position {
  const [payload, sig, extra] = cursor.split('.');
  if (!payload || !sig || extra !== undefined || !safeEqual(sig, mac(secret, scope, payload))) {
    throw new ValidationError(INVALID_CURSOR, 'after');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw new ValidationError(INVALID_CURSOR, 'after');
  }
  const fits =
    Array.isArray(parsed) &&
    parsed.length === shape.length &&
    shape.every((type, i) => typeof parsed[i] === type);
  if (!fits) throw new ValidationError(INVALID_CURSOR, 'after');
  return parsed as Position;
}

/** `first` checked against the list's bounds (a `ValidationError` on `first` otherwise). */
export function pageSize(first: number | null | undefined, bounds: PageBounds): number {
  if (first === null || first === undefined) return bounds.default;
  if (!Number.isInteger(first) || first < 1 || first > bounds.max) {
    throw new ValidationError(`first must be between 1 and ${bounds.max}`, 'first');
  }
  return first;
}

/** How one list pages: its cursor scope, the shape of its positions and each row's position. */
export interface Keyset<T> {
  scope: CursorScope;
  shape: PositionShape;
  position: (row: T) => Position;
  bounds?: PageBounds;
}

/** The page asked for: its size and the position it starts after (null: from the start). */
export function pageRequest<T>(ctx: GraphQLContext, keyset: Keyset<T>, args: PageArgs) {
  const size = pageSize(args.first, keyset.bounds ?? LIST_PAGE);
  const after = args.after
    ? decodeListCursor(ctx.deps.secretKey, keyset.scope, keyset.shape, args.after)
    : null;
  return { size, after };
}

/** A page of rows (already cut to the page size) as a connection, each edge with its cursor. */
export function connectionOf<T>(
  ctx: GraphQLContext,
  keyset: Keyset<T>,
  page: { rows: T[]; after: Position | null; hasNextPage: boolean },
): Connection<T> {
  const edges = page.rows.map((node) => ({
    cursor: encodeListCursor(ctx.deps.secretKey, keyset.scope, keyset.position(node)),
    node,
  }));
  return {
    edges,
    pageInfo: {
      hasNextPage: page.hasNextPage,
      hasPreviousPage: page.after !== null,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}

/**
 * One forward page: `fetch` answers up to `take` rows after `after` (null: from the start), in the
 * list's order. One row more than the page is asked for, to know whether another page follows.
 */
export async function paginate<T>(
  ctx: GraphQLContext,
  keyset: Keyset<T>,
  args: PageArgs,
  fetch: (after: Position | null, take: number) => Promise<T[]>,
): Promise<Connection<T>> {
  const { size, after } = pageRequest(ctx, keyset, args);
  const rows = await fetch(after, size + 1);
  return connectionOf(ctx, keyset, {
    rows: rows.slice(0, size),
    after,
    hasNextPage: rows.length > size,
  });
}

/** `first` and `after`, the arguments of every connection field. */
export function pageArgs(bounds: PageBounds = LIST_PAGE) {
  return builder.args((t) => ({
    first: t.int({ description: `Page size: default ${bounds.default}, at most ${bounds.max}.` }),
    after: t.string({ description: 'The `endCursor` of the previous page.' }),
  }));
}

/** Positions `[createdAt ms, id]` of lists in creation order (ties broken by id). */
export const BY_CREATION: PositionShape = ['number', 'string'];

export function createdPosition(row: { createdAt: Date; id: string }): Position {
  return [row.createdAt.getTime(), row.id];
}

/** Prisma `where` for rows strictly after `[createdAt ms, id]` in `createdAt, id` order. */
export function afterCreated(after: Position | null, direction: 'asc' | 'desc' = 'asc') {
  if (after === null) return {};
  const createdAt = new Date(Number(after[0]));
  const id = String(after[1]);
  return direction === 'asc'
    ? { OR: [{ createdAt: { gt: createdAt } }, { createdAt, id: { gt: id } }] }
    : { OR: [{ createdAt: { lt: createdAt } }, { createdAt, id: { lt: id } }] };
}
