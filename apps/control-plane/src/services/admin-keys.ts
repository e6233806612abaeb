import { Prisma } from '@tollgate/db';
import { z } from 'zod';
import { ConflictError, NotFoundError } from '../lib/errors.ts';
import { mintKey, newId } from '../lib/ids.ts';
import { keyLifetimeField, parseInput } from '../lib/validation.ts';
import { type Caller, mutate, type ServiceDeps, type Tx } from './context.ts';
import { type KeysetPage, keysetOrder, keysetPage } from './keyset.ts';

/** What the operator calls a key: shown beside its prefix, so keys can be told apart. */
export const adminKeyNameField = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .regex(/^[\x20-\x7e]+$/, 'must be printable ASCII');

const createSchema = z.strictObject({
  name: adminKeyNameField.optional(),
  /** A temporary key (a CI job, a contractor). */
  expiresInSeconds: keyLifetimeField,
});

/** Keys that authenticate at `now`: not revoked, not expired. */
export function workingAdminKeys(now: Date): Prisma.AdminKeyWhereInput {
  return { revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] };
}

/**
 * A new admin key of the caller's workspace, for rotation with overlap: the others keep working
 * until revoked. The plaintext is returned exactly once (SPEC §3).
 */
export async function createAdminKey(deps: ServiceDeps, caller: Caller, raw: unknown) {
  const input = parseInput(createSchema, raw ?? {});
  const now = deps.now?.() ?? new Date();
  const minted = mintKey('admin');
  const key = await mutate(
    deps,
    caller,
    (k) => ({ action: 'admin_key.create', targetType: 'admin_key', targetId: k.id }),
    null,
    (tx: Tx) =>
      tx.adminKey.create({
        data: {
          id: newId('ak'),
          workspaceId: caller.workspaceId,
          hash: minted.hash,
          prefix: minted.prefix,
          name: input.name ?? null,
          expiresAt: input.expiresInSeconds
            ? new Date(now.getTime() + input.expiresInSeconds * 1000)
            : null,
        },
      }),
  );
  return { key, plaintext: minted.plaintext };
}

const ADMIN_KEYS = keysetOrder('AdminKey', 'createdAt', 'id', 'asc');

/** The workspace's admin keys, revoked ones included, oldest first (creation time, then id). */
export function listAdminKeys(deps: ServiceDeps, caller: Caller, page: KeysetPage = {}) {
  return keysetPage(
    deps.prisma,
    ADMIN_KEYS,
    Prisma.sql`"workspaceId" = ${caller.workspaceId}`,
    page,
    (ids) =>
      deps.prisma.adminKey.findMany({
        where: { id: { in: ids }, workspaceId: caller.workspaceId },
      }),
  );
}

/**
 * Revokes one admin key of the caller's workspace — the caller's own included (its next call is
 * refused). The last working key without an expiry cannot be revoked: the workspace would be
 * locked out of its own admin API (at once, or when its temporary keys expire), with no way back
 * but the database. Revoking twice is harmless.
 */
export async function revokeAdminKey(deps: ServiceDeps, caller: Caller, keyId: string) {
  const key = await findAdminKey(deps, caller, keyId);
  if (key.revokedAt) return key;
  const now = deps.now?.() ?? new Date();
  return mutate(
    deps,
    caller,
    () => ({ action: 'admin_key.revoke', targetType: 'admin_key', targetId: keyId }),
    null,
    async (tx: Tx) => {
      // Serialises revocations within the workspace, so two concurrent calls revoking its last two
      // keys cannot both see "another key remains".
      await tx.$queryRaw`SELECT id FROM "Workspace" WHERE id = ${caller.workspaceId} FOR UPDATE`;
      const others = await tx.adminKey.count({
        where: {
          workspaceId: caller.workspaceId,
          revokedAt: null,
          expiresAt: null,
          id: { not: keyId },
        },
      });
      if (others === 0) {
        throw new ConflictError(
          'this is the last admin key of the workspace without an expiry: create another one before revoking it',
        );
      }
      // A concurrent revocation of this same key keeps its first time.
      await tx.adminKey.updateMany({
        where: { id: keyId, revokedAt: null },
        data: { revokedAt: now },
      });
      return tx.adminKey.findUniqueOrThrow({ where: { id: keyId } });
    },
  );
}

async function findAdminKey(deps: ServiceDeps, caller: Caller, keyId: string) {
  const key = await deps.prisma.adminKey.findFirst({
    where: { id: keyId, workspaceId: caller.workspaceId },
  });
  if (!key) throw new NotFoundError('admin key', keyId);
  return key;
}

/** Of the given admin key ids, those that no longer authenticate (revoked, expired or gone). */
export async function retiredAdminKeys(
  deps: Pick<ServiceDeps, 'prisma' | 'now'>,
  ids: readonly string[],
): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const live = await deps.prisma.adminKey.findMany({
    where: { id: { in: [...ids] }, ...workingAdminKeys(deps.now?.() ?? new Date()) },
    select: { id: true },
  });
  const alive = new Set(live.map((k) => k.id));
  return new Set(ids.filter((id) => !alive.has(id)));
}
