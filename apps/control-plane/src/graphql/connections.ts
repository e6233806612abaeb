import { ValidationError } from '../lib/errors.ts';
import {
  type CursorScope,
  DEFAULT_PAGE,
  decodeScopedCursor,
  encodeScopedCursor,
  MAX_PAGE,
  type Position,
  type PositionShape,
} from '../services/pagination.ts';
import { builder } from './builder.ts';
import type { GraphQLContext } from './context.ts';

/**
 * Relay-style forward pagination for every list of the schema: keyset pages (`take` after the
 * position of the cursor's row, never fetch-all), and opaque cursors `<payload>.<mac>` signed with
 * the server secret *for one list of one workspace* (and one parent, e.g. a webhook's deliveries).
 * A cursor that was tampered with, or that comes from another list or workspace, is refused as a
 * `ValidationError` on `after`: it can never position a page, let alone read another workspace.
 */

// Cursors are signed for their scope by services/pagination.ts, the same way as REST cursors.
export { BY_CREATION } from '../services/pagination.ts';
export type { CursorScope, Position, PositionShape };

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

export function encodeListCursor(secret: Buffer, scope: CursorScope, position: Position): string {
  return encodeScopedCursor(secret, scope, position);
}

/** The position of a cursor made by encodeListCursor for this very scope; anything else refused
 * (a `ValidationError` on `after`). */
export function decodeListCursor(
  secret: Buffer,
  scope: CursorScope,
  shape: PositionShape,
  cursor: string,
): Position {
  return decodeScopedCursor(secret, scope, shape, cursor, 'after');
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

/** A row's position in a list in creation order (`BY_CREATION`). */
export function createdPosition(row: { createdAt: Date; id: string }): Position {
  return [row.createdAt.getTime(), row.id];
}
