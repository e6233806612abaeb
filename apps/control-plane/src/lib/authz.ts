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
    throw new PermissionError(`this key may not perform '${action}'`);
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

/**
 * Resolves a bearer token to a principal: the root key (constant-time compare), an admin key or a
 * sub-account key (both looked up by hash). A sub-account key is refused (401) when it is revoked or
 * expired or its sub-account is deleted; a suspended sub-account still resolves — it may read its
 * own usage (the analytics of what it spent stay its own), while the data plane refuses its model
 * requests. What each principal may do is decided by `authorize()` alone. Repeated failures from
 * one client are throttled, so keys cannot be brute-forced through the control plane.
 */
export function createAuthenticator(prisma: PrismaClient, rootKey: string | null): Authenticator {
  const failures = new Map<string, { count: number; since: number }>();
  const fail = (clientId: string): never => {
    const now = Date.now();
    const entry = failures.get(clientId);
    if (!entry || now - entry.since > FAILURE_WINDOW_MS)
      failures.set(clientId, { count: 1, since: now });
    else entry.count++;
    if (failures.size > 10_000) failures.clear();
    throw new AuthenticationError('invalid API key');
  };
  return {
    async authenticate(authorization, clientId) {
      const entry = failures.get(clientId);
      if (entry && entry.count >= MAX_FAILURES && Date.now() - entry.since < FAILURE_WINDOW_MS) {
        throw new TooManyAttemptsError(
          Math.ceil((entry.since + FAILURE_WINDOW_MS - Date.now()) / 1000),
        );
      }
      const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
      if (!token) return { kind: 'anonymous' };
      if (rootKey && safeEqual(token, rootKey)) return { kind: 'root' };
      if (!token.startsWith('sk-tg-') || token.length > 200) return fail(clientId);
      if (token.startsWith('sk-tg-admin-')) {
        const key = await prisma.adminKey.findUnique({ where: { hash: hashKey(token) } });
        if (!key || key.revokedAt) return fail(clientId);
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
        return fail(clientId);
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
