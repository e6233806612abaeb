/**
 * "The database cannot be reached right now" — the one failure of the admin API that is neither the
 * caller's fault nor a bug: REST answers it 503 `database_unavailable` with Retry-After, GraphQL
 * with `DATABASE_UNAVAILABLE` (same status and header). Everything else stays what it was.
 */

/** Seconds a client is told to wait before retrying (Retry-After). */
export const DATABASE_RETRY_AFTER_SECONDS = 2;

export const DATABASE_UNAVAILABLE_MESSAGE = 'the database is unavailable; try again shortly';

/**
 * Driver-adapter error kinds of a connection that could not be made or was lost (@prisma/adapter-pg
 * maps ECONNREFUSED/ENOTFOUND, ECONNRESET, ETIMEDOUT to these; Prisma reports them as P1001, P1017,
 * P1008, or P2010 for raw queries, always with `meta.driverAdapterError`).
 */
const UNREACHABLE_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout']);
const UNREACHABLE_PRISMA_CODES = new Set(['P1001', 'P1008', 'P1017']);

/** PostgreSQL going away: shutting down (57P01 admin_shutdown, also pg_terminate_backend),
 * crashed (57P02), starting up or shutting down when connecting (57P03). */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03']);

/** node-postgres errors without a code, raised when a connection dies or cannot be had; Prisma
 * rethrows them as they are (e.g. a pooled connection cut mid-life: "Connection terminated
 * unexpectedly"). */
const PG_CONNECTION_MESSAGES = new Set([
  'Connection terminated unexpectedly',
  'Connection terminated due to connection timeout',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
]);

interface AdapterError {
  name?: unknown;
  cause?: { kind?: unknown; originalCode?: unknown };
}

/** Whether `err` says the database is unreachable (refused, lost, timed out, shutting down). A
 * constraint violation, a bad query or any other error is not. */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const e = err as Error & { code?: unknown; meta?: { driverAdapterError?: AdapterError } };
  const adapter: AdapterError | undefined =
    e.name === 'DriverAdapterError' ? (e as AdapterError) : e.meta?.driverAdapterError;
  if (e.name === 'PrismaClientKnownRequestError' && UNREACHABLE_PRISMA_CODES.has(e.code as string))
    return true;
  if (adapter?.cause !== undefined) {
    const { kind, originalCode } = adapter.cause;
    return (
      (typeof kind === 'string' && UNREACHABLE_KINDS.has(kind)) ||
      (typeof originalCode === 'string' && UNAVAILABLE_SQLSTATES.has(originalCode))
    );
  }
  return e.code === undefined && PG_CONNECTION_MESSAGES.has(e.message);
}
