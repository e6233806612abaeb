import { resultError } from './errors.ts';
// Lists answer relay connections, or a typed error (`ValidationError`, …) in their place.

/** The node type of a list field's answer (`PlansQuery['plans']` → a plan). */
export type NodeOf<R> = R extends { edges: ReadonlyArray<{ node: infer N }> } ? N : never;

interface AnyPage {
  edges: ReadonlyArray<{ node: unknown }>;
  pageInfo?: { hasNextPage: boolean };
}

const isPage = (result: object): boolean => 'edges' in result;

/** The rows of a connection's page; none while loading or when the list answered an error. */
export function nodesOf<R extends object>(result: R | null | undefined): NodeOf<R>[] {
  if (!result || !isPage(result)) return [];
  return (result as unknown as AnyPage).edges.map((edge) => edge.node as NodeOf<R>);
}

/** Whether rows follow the page shown (the console shows one page of each small list). */
export function hasMore(result: object | null | undefined): boolean {
  if (!result || !isPage(result)) return false;
  return (result as unknown as AnyPage).pageInfo?.hasNextPage === true;
}

/** The message of a list that answered a typed error instead of a page. */
export function listError(
  result: { __typename: string; message?: string; field?: string | null } | null | undefined,
): string | null {
  if (!result?.__typename.endsWith('Error')) return null;
  return resultError(result);
}

/**
 * What a list's table says in place of rows — null while it has rows. A failed list (the request
 * failed, or the list answered a typed error) says so rather than pretend to be empty; one still
 * loading says that.
 */
export function listPlaceholder(
  query: { error?: unknown },
  answer: { __typename: string; message?: string } | null | undefined,
  rows: number,
  texts: { what: string; empty: string },
): string | null {
  if (rows > 0) return null;
  if (query.error || listError(answer))
    return `Could not load ${texts.what} (see the message above).`;
  if (!answer) return 'Loading…';
  return texts.empty;
}

/** What an empty page of the sub-account list says, for its search and status filter. */
export function subAccountsEmptyText(search: string, status: string): string {
  if (search && status) return `No ${status} sub-account name contains “${search}”.`;
  if (search) return `No sub-account name contains “${search}”.`;
  if (status) return `No sub-account matches the filter: none is ${status}.`;
  return 'No sub-accounts yet.';
}
