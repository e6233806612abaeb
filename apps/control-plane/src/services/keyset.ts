import { Prisma, type PrismaClient } from '@tollgate/db';
import type { Position } from './pagination.ts';

/**
 * Keyset pages of lists ordered by a timestamp and a unique key (creation time then id, start time
 * then request id), in SQL PostgreSQL can answer from an index range.
 *
 * "Strictly after the cursor's row (t, k)" is the row comparison `(at, key) > (t, k)` (`<` newest
 * first): PostgreSQL reads it as a range of an index on (…equality filters, at, key) — or, on
 * (…filters, at), as the range `at >= t` with the key rechecked — so a page deep in a list costs
 * what the first page costs. Prisma's `where` has no row comparison, and its spelling
 * `at > t OR (at = t AND key > k)` is no index range: every page read and dropped every row before
 * it (43–63 ms a page at row 90k of 100k sub-accounts). So a page's keys are read with raw SQL
 * (values as parameters) here, and its rows then by those keys through Prisma (typed, with their
 * relations), put back in the keys' order.
 */

/** How a list is ordered: its table, its timestamp(3) column and its unique key column (names
 * of the Prisma model and fields, which are the SQL ones), and the direction of both. */
export interface KeysetOrder<Key extends string> {
  key: Key;
  sql: { table: Prisma.Sql; at: Prisma.Sql; key: Prisma.Sql; after: Prisma.Sql; dir: Prisma.Sql };
}

const IDENTIFIER = /^[A-Za-z][A-Za-z0-9]*$/;

/** The order of a list; names are identifiers of the schema, never input (checked, then quoted). */
export function keysetOrder<Key extends string>(
  table: string,
  at: string,
  key: Key,
  direction: 'asc' | 'desc',
): KeysetOrder<Key> {
  for (const name of [table, at, key]) {
    if (!IDENTIFIER.test(name)) throw new Error(`keysetOrder: '${name}' is not an identifier`);
  }
  const quoted = (name: string) => Prisma.raw(`"${name}"`);
  return {
    key,
    sql: {
      table: quoted(table),
      at: quoted(at),
      key: quoted(key),
      after: Prisma.raw(direction === 'asc' ? '>' : '<'),
      dir: Prisma.raw(direction === 'asc' ? 'ASC' : 'DESC'),
    },
  };
}

/** A page: up to `take` rows (all when absent) strictly after the position `[t ms, key]` (from
 * the start when absent or null). */
export interface KeysetPage {
  after?: Position | null;
  take?: number;
}

/** SQL conditions joined with AND, the absent ones (`undefined`, `false`) left out. */
export function allOf(...conditions: (Prisma.Sql | undefined | false)[]): Prisma.Sql {
  const present = conditions.filter((c): c is Prisma.Sql => c instanceof Prisma.Sql);
  return present.length === 0 ? Prisma.sql`TRUE` : Prisma.join(present, ' AND ');
}

/** The keys of a page, in the list's order: rows matching `filter` (SQL on the list's table)
 * strictly after the page's position. */
async function keysetKeys<Key extends string>(
  prisma: PrismaClient,
  order: KeysetOrder<Key>,
  filter: Prisma.Sql,
  page: KeysetPage,
): Promise<string[]> {
  const { table, at, key, after, dir } = order.sql;
  const position = page.after
    ? Prisma.sql`AND (${at}, ${key}) ${after} (${new Date(Number(page.after[0]))}::timestamp(3), ${String(page.after[1])})`
    : Prisma.empty;
  const limit = page.take === undefined ? Prisma.empty : Prisma.sql`LIMIT ${page.take}`;
  const rows = await prisma.$queryRaw<{ key: string }[]>`
    SELECT ${key} AS key FROM ${table}
    WHERE ${filter} ${position}
    ORDER BY ${at} ${dir}, ${key} ${dir}
    ${limit}`;
  return rows.map((r) => r.key);
}

/** Reads of a page whose rows vanished between its two statements before it is answered short. */
const READS = 3;

/**
 * A page of rows: the keys from `keysetKeys`, then the rows `rowsOf` finds for them, in the
 * keys' order. The two reads are two statements (not one snapshot, which would need a
 * transaction: ~1 ms more a page): a row changed between them is answered as it is now, as if
 * the page had been read a moment later. A row deleted between them would make the page short —
 * and callers, which ask for one row more than the page, read a short answer as the last page —
 * so the page is read again then, up to READS times, after which it is answered without the row.
 */
export async function keysetPage<Key extends string, Row extends Record<Key, string>>(
  prisma: PrismaClient,
  order: KeysetOrder<Key>,
  filter: Prisma.Sql,
  page: KeysetPage,
  rowsOf: (keys: string[]) => Promise<Row[]>,
): Promise<Row[]> {
  let rows: Row[] = [];
  for (let read = 0; read < READS; read++) {
    const keys = await keysetKeys(prisma, order, filter, page);
    if (keys.length === 0) return [];
    const byKey = new Map<string, Row>((await rowsOf(keys)).map((row) => [row[order.key], row]));
    rows = keys.flatMap((k) => byKey.get(k) ?? []);
    if (rows.length === keys.length) break;
  }
  return rows;
}
