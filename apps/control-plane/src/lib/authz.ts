import type { PrismaClient } from '@tollgate/db';
import type { Caller } from '../services/context.ts';
import { AuthenticationError, PermissionError, TooManyAttemptsError } from './errors.ts';
import { hashKey, safeEqual } from './ids.ts';

/** Who is calling. Unauthenticated callers are `anonymous` and may do nothing. */
export type Principal =
  | { kind: 'anonymous' }
  | { kind: 'root' }
  | { kind: 'admin'; workspaceId: string; keyId: string };

/** Every action of the admin API, declared once, with the principals allowed to take it. */
const POLICY = {
  'workspaces.manage': ['root'],
  'workspace.read': ['admin'],
  'workspace.write': ['admin'],
} as const satisfies Record<string, readonly Principal['kind'][]>;

export type Action = keyof typeof POLICY;

/**
 * The one authorization check. Deny by default: anonymous → 401, wrong kind → 403. Returns the
 * workspace-scoped caller every service call needs, so nothing can run unscoped.
 */
export function authorize(principal: Principal, action: Action): Caller {
  if (principal.kind === 'anonymous') throw new AuthenticationError('missing or invalid admin key');
  const allowed: readonly string[] = POLICY[action];
  if (!allowed.includes(principal.kind)) {
    throw new PermissionError(`this key may not perform '${action}'`);
  }
  return principal.kind === 'admin'
    ? { workspaceId: principal.workspaceId, actor: principal.keyId }
    : { workspaceId: '', actor: 'root' };
}

export interface Authenticator {
  authenticate(authorization: string | null | undefined, clientId: string): Promise<Principal>;
}

const FAILURE_WINDOW_MS = 60_000;
const MAX_FAILURES = 30;

/**
 * Resolves a bearer token to a principal: the root key (constant-time compare) or an admin key
 * (looked up by hash). Sub-account keys are refused here (SPEC §3). Repeated failures from one
 * client are throttled, so keys cannot be brute-forced through the admin API.
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
    throw new AuthenticationError('invalid admin key');
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
      if (!token.startsWith('sk-tg-admin-') || token.length > 200) return fail(clientId);
      const key = await prisma.adminKey.findUnique({ where: { hash: hashKey(token) } });
      if (!key || key.revokedAt) return fail(clientId);
      return { kind: 'admin', workspaceId: key.workspaceId, keyId: key.id };
    },
  };
}
