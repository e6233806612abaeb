import {
  buildControlPlane,
  createAuthenticator,
  ensureDefaultWorkspace,
} from '@tollgate/control-plane';
import { openDatabase, type PrismaClient, type QueryListener } from '@tollgate/db';
import {
  createPgDatabase,
  openTestDatabase,
  pgAvailable,
  type TestDatabase,
} from '@tollgate/testkit';

/** Database kinds every control-plane suite runs on; PostgreSQL only when its tier is on. */
export const KINDS = ['pglite', 'postgres'] as const;
export type Kind = (typeof KINDS)[number];
export const skipKind = (kind: Kind) => kind === 'postgres' && !pgAvailable();

export const ADMIN_KEY = `sk-tg-admin-${'T'.repeat(43)}`;
export const ROOT_KEY = `root-${'R'.repeat(40)}`;

export interface Answer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers are checked field by field in tests
  body: any;
}

export interface Harness {
  url: string;
  prisma: PrismaClient;
  workspaceId: string;
  api(method: string, path: string, body?: unknown, key?: string | null): Promise<Answer>;
  raw(
    method: string,
    path: string,
    init: { body?: string; headers?: Record<string, string> },
  ): Promise<Answer>;
  // biome-ignore lint/suspicious/noExplicitAny: GraphQL answers are checked field by field in tests
  gql(query: string, variables?: Record<string, unknown>, key?: string | null): Promise<any>;
  close(): Promise<void>;
}

async function answer(res: Response): Promise<Answer> {
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body };
}

/** A control plane on a fresh database of `kind`, with workspace "default" and ADMIN_KEY; BYOK
 * base URLs on private addresses refused unless `allowPrivateUpstreams`. */
export async function startHarness(
  kind: Kind,
  opts: {
    /** TOLLGATE_ALLOW_PRIVATE_UPSTREAMS (default false, as in production). */
    allowPrivateUpstreams?: boolean;
    /** PostgreSQL only: the URL the control plane connects with, made from the fresh database's
     * (e.g. through a proxy the test can cut). */
    databaseUrl?: (url: string) => string;
    /** PostgreSQL only: how long taking a new connection may wait (default: production's). */
    connectTimeoutMs?: number;
    /** What the control plane logs (default: nothing kept). */
    log?: (level: string, msg: string, fields?: Record<string, unknown>) => void;
    /** Told each SQL statement the control plane's Prisma client sends (not with `databaseUrl`). */
    onQuery?: QueryListener;
  } = {},
): Promise<Harness> {
  const { db, cleanup } =
    opts.databaseUrl === undefined
      ? await openTestDatabase(kind, { onQuery: opts.onQuery })
      : await openRoutedPg(opts.databaseUrl, opts.connectTimeoutMs);
  const deps = {
    prisma: db.prisma,
    secretKey: Buffer.alloc(32, 7),
    allowPrivateWebhookUrls: false,
    allowPrivateUpstreams: opts.allowPrivateUpstreams ?? false,
    authenticator: createAuthenticator(db.prisma, ROOT_KEY),
    log: opts.log ?? (() => {}),
    readyChecks: { database: () => db.prisma.$queryRaw`SELECT 1` },
  };
  const boot = await ensureDefaultWorkspace(deps, ADMIN_KEY);
  const plane = buildControlPlane(deps);
  const port = await plane.start(0);
  const url = `http://127.0.0.1:${port}`;
  const raw: Harness['raw'] = async (method, path, init) =>
    answer(await fetch(url + path, { method, body: init.body, headers: init.headers }));
  return {
    url,
    prisma: db.prisma,
    workspaceId: boot.workspaceId,
    raw,
    api: (method, path, body, key = ADMIN_KEY) =>
      raw(method, path, {
        body: body === undefined ? undefined : JSON.stringify(body),
        headers: {
          ...(key ? { authorization: `Bearer ${key}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
      }),
    gql: async (query, variables = {}, key = ADMIN_KEY) => {
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(key ? { authorization: `Bearer ${key}` } : {}),
        },
        body: JSON.stringify({ query, variables }),
      });
      return res.json();
    },
    close: async () => {
      await plane.stop();
      await cleanup();
    },
  };
}

/** A fresh PostgreSQL database opened through `route(url)`. */
async function openRoutedPg(
  route: (url: string) => string,
  connectTimeoutMs?: number,
): Promise<TestDatabase> {
  const database = await createPgDatabase();
  const db = await openDatabase({ databaseUrl: route(database.url), connectTimeoutMs }).catch(
    async (err) => {
      await database.drop();
      throw err;
    },
  );
  return {
    db,
    cleanup: async () => {
      try {
        await db.close();
      } finally {
        await database.drop();
      }
    },
  };
}

/** Row counts of every table an admin call could write: a refused call must leave them unchanged. */
export async function rowCounts(prisma: PrismaClient) {
  const [workspaces, adminKeys, subAccounts, keys, budgets, prices, providerKeys, webhooks, audit] =
    await Promise.all([
      prisma.workspace.count(),
      prisma.adminKey.count(),
      prisma.subAccount.count(),
      prisma.subAccountKey.count(),
      prisma.tagBudget.count(),
      prisma.modelPrice.count(),
      prisma.providerCredential.count(),
      prisma.webhookEndpoint.count(),
      prisma.auditLog.count(),
    ]);
  return {
    workspaces,
    adminKeys,
    subAccounts,
    keys,
    budgets,
    prices,
    providerKeys,
    webhooks,
    audit,
  };
}
