import { createMemoryFailureCounter, type FailureCounter } from '@tollgate/bus';
import type { PrismaClient } from '@tollgate/db';
import type { Caller } from '../services/context.ts';
import { AuthenticationError, PermissionError, TooManyAttemptsError } from './errors.ts';
import { hashKey, safeEqual } from './ids.ts';

/**
 * Who is calling. Unauthenticated callers are `anonymous` and may do nothing. A `sub_account` is an
 * end customer's key (`sk-tg-…`): it may only read its own usage (SPEC §3, §6 `GET /v1/usage`).
 */
export type Principal =
  | { kind: 'anonymous' }
  | { kind: 'root' }
  | { kind: 'admin'; workspaceId: string; keyId: string }
  | { kind: 'sub_account'; workspaceId: string; subAccountId: string; keyId: string };

/** Every action of the API, declared once, with the principals allowed to take it. */
const POLICY = {
  'workspaces.manage': ['root'],
  'workspace.read': ['admin'],
  'workspace.write': ['admin'],
  'usage.own.read': ['sub_account'],
} as const satisfies Record<string, readonly Principal['kind'][]>;

export type Action = keyof typeof POLICY;

/** What a key of the wrong kind is told: which key the action takes. */
const WRONG_KEY: Record<Action, string> = {
  'workspaces.manage':
    'managing workspaces takes the root key (TOLLGATE_ROOT_KEY), not an admin key',
  'workspace.read': "the root key manages workspaces only: use the workspace's admin key",
  'workspace.write': "the root key manages workspaces only: use the workspace's admin key",
  'usage.own.read':
    "GET /v1/usage is a sub-account's own usage and takes its key (sk-tg-…); with an admin key read GET /v1/sub-accounts/{id}/usage",
};

/**
 * The one authorization check. Deny by default: anonymous → 401, wrong kind → 403 — except a
 * sub-account key on an admin action, which is 401 as for any key the admin API does not accept
 * (SPEC §3: it is not an admin credential at all). Returns the workspace-scoped caller every service
 * call needs, so nothing can run unscoped; a sub-account caller also carries its sub-account, and
 * services reading "own" data take it from there, never from the request.
 */
export function authorize(principal: Principal, action: Action): Caller {
  if (principal.kind === 'anonymous') throw new AuthenticationError('missing or invalid admin key');
  const allowed: readonly string[] = POLICY[action];
  if (!allowed.includes(principal.kind)) {
    if (principal.kind === 'sub_account') {
      throw new AuthenticationError('a sub-account key is not accepted here: use an admin key');
    }
    throw new PermissionError(WRONG_KEY[action]);
  }
  switch (principal.kind) {
    case 'admin':
      return { workspaceId: principal.workspaceId, actor: principal.keyId };
    case 'sub_account':
      return {
        workspaceId: principal.workspaceId,
        actor: principal.keyId,
        subAccountId: principal.subAccountId,
      };
    default:
      return { workspaceId: '', actor: 'root' };
  }
}

export interface Authenticator {
  authenticate(authorization: string | null | undefined, clientId: string): Promise<Principal>;
}

const FAILURE_WINDOW_MS = 60_000;
const MAX_FAILURES = 30;

export interface AuthenticatorOptions {
  /** Failures allowed per client address (and per key prefix) in `windowMs`. Default 30. */
  maxFailures?: number;
  /** Default 60 000. */
  windowMs?: number;
  /** Where failures are counted: the bus's (shared through Redis) or, by default, this process's.
   * When it fails, this process's own windows are used. */
  failures?: FailureCounter;
  /** Told about each refused key and each throttled request (metrics). */
  onFailure?: () => void;
  onThrottled?: () => void;
}

/** The part of a presented key that names it (`sk-tg-admin-` + 8 characters): a caller trying
 * many suffixes of one prefix is throttled whatever address it comes from (see `fail`). */
function keyPrefix(token: string): string {
  return `prefix:${token.slice(0, token.startsWith('sk-tg-admin-') ? 20 : 14)}`;
}

/**
 * Resolves a bearer token to a principal: the root key (constant-time compare), an admin key or a
 * sub-account key (both looked up by hash). A sub-account key is refused (401) when it is revoked or
 * expired or its sub-account is deleted; a suspended sub-account still resolves — it may read its
 * own usage (the analytics of what it spent stay its own), while the data plane refuses its model
 * requests. What each principal may do is decided by `authorize()` alone. Repeated failures from
 * one client address, or with one key prefix, are throttled (429 with Retry-After) so keys cannot be
 * brute-forced through the control plane; a valid key is refused only for its address's failures,
 * never for its prefix's. The windows are shared through Redis when the bus is.
 */
export function createAuthenticator(
  prisma: PrismaClient,
  rootKey: string | null,
  opts: AuthenticatorOptions = {},
): Authenticator {
  const windowMs = opts.windowMs ?? FAILURE_WINDOW_MS;
  const max = opts.maxFailures ?? MAX_FAILURES;
  const local = createMemoryFailureCounter();
  const shared = opts.failures ?? local;
  // A store that cannot be reached must not lock everyone out, nor stop counting: fall back.
  const hit = (key: string) => shared.hit(key, windowMs).catch(() => local.hit(key, windowMs));
  const peek = (key: string) => shared.peek(key).catch(() => local.peek(key));
  /** Seconds until a window lets its caller try again; 0 when it does now. */
  const waitOf = (w: { count: number; ttlMs: number }) =>
    w.count >= max ? Math.max(1, Math.ceil(w.ttlMs / 1000)) : 0;
  const throttled = (wait: number): never => {
    opts.onThrottled?.();
    throw new TooManyAttemptsError(wait);
  };
  /** A key that did not resolve. Its prefix's window is consulted only now: a caller guessing
   * suffixes of one prefix is throttled from any address, while the holder of the real key of that
   * prefix is never locked out by someone else's failures (it resolves before this). */
  const fail = async (clientId: string, token: string): Promise<never> => {
    const prefix = token.startsWith('sk-tg-') ? keyPrefix(token) : null;
    const wait = prefix === null ? 0 : waitOf(await peek(prefix));
    await Promise.all([hit(`ip:${clientId}`), prefix === null ? undefined : hit(prefix)]);
    opts.onFailure?.();
    if (wait > 0) throttled(wait);
    throw new AuthenticationError('invalid API key');
  };
  return {
    async authenticate(authorization, clientId) {
      const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
      const wait = waitOf(await peek(`ip:${clientId}`));
      if (wait > 0) throttled(wait);
      if (!token) return { kind: 'anonymous' };
      if (rootKey && safeEqual(token, rootKey)) return { kind: 'root' };
      if (!token.startsWith('sk-tg-') || token.length > 200) return fail(clientId, token);
      if (token.startsWith('sk-tg-admin-')) {
        const key = await prisma.adminKey.findUnique({ where: { hash: hashKey(token) } });
        if (!key || key.revokedAt || (key.expiresAt && key.expiresAt.getTime() <= Date.now()))
          return fail(clientId, token);
        return { kind: 'admin', workspaceId: key.workspaceId, keyId: key.id };
      }
      const key = await prisma.subAccountKey.findUnique({
        where: { hash: hashKey(token) },
        include: { subAccount: { select: { status: true, deletedAt: true, workspaceId: true } } },
      });
      if (
        !key ||
        key.revokedAt ||
        (key.expiresAt && key.expiresAt.getTime() <= Date.now()) ||
        key.subAccount.status === 'deleted' ||
        key.subAccount.deletedAt ||
        key.subAccount.workspaceId !== key.workspaceId
      ) {
        return fail(clientId, token);
      }
      return {
        kind: 'sub_account',
        workspaceId: key.workspaceId,
        subAccountId: key.subAccountId,
        keyId: key.id,
      };
    },
  };
}
