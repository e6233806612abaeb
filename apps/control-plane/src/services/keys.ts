import { Prisma } from '@tollgate/db';
import { z } from 'zod';
import { NotFoundError } from '../lib/errors.ts';
import { mintKey, newId } from '../lib/ids.ts';
import { keyLifetimeField, parseInput } from '../lib/validation.ts';
import { type Caller, mutate, type ServiceDeps, type Tx } from './context.ts';
import { type KeysetPage, keysetOrder, keysetPage } from './keyset.ts';
import { deletedError, findSubAccount } from './sub-account-reads.ts';

const rotateSchema = z.strictObject({ expiresInSeconds: keyLifetimeField });

/** A new key for rotation with overlap: the old keys keep working until revoked or expired. */
export async function createKey(
  deps: ServiceDeps,
  caller: Caller,
  subAccountId: string,
  raw: unknown,
) {
  const input = parseInput(rotateSchema, raw ?? {});
  const sa = await findSubAccount(deps, caller, subAccountId);
  if (sa.status === 'deleted') throw deletedError(subAccountId);
  const now = deps.now?.() ?? new Date();
  const minted = mintKey('sub_account');
  const key = await mutate(
    deps,
    caller,
    (k) => ({ action: 'key.create', targetType: 'key', targetId: k.id }),
    'key',
    (tx: Tx) =>
      tx.subAccountKey.create({
        data: {
          id: newId('key'),
          subAccountId,
          workspaceId: caller.workspaceId,
          hash: minted.hash,
          prefix: minted.prefix,
          expiresAt: input.expiresInSeconds
            ? new Date(now.getTime() + input.expiresInSeconds * 1000)
            : null,
        },
      }),
  );
  return { key, plaintext: minted.plaintext };
}

export async function listKeys(deps: ServiceDeps, caller: Caller, subAccountId: string) {
  await findSubAccount(deps, caller, subAccountId);
  return keysOf(deps, { id: subAccountId, workspaceId: caller.workspaceId });
}

const KEYS = keysetOrder('SubAccountKey', 'createdAt', 'id', 'asc');

/** A sub-account's keys (one already found), oldest first (creation time, then id), revoked and
 * expired included. */
export function keysOf(
  deps: ServiceDeps,
  sa: { id: string; workspaceId: string },
  page: KeysetPage = {},
) {
  return keysetPage(
    deps.prisma,
    KEYS,
    Prisma.sql`"subAccountId" = ${sa.id} AND "workspaceId" = ${sa.workspaceId}`,
    page,
    (ids) =>
      deps.prisma.subAccountKey.findMany({
        where: { id: { in: ids }, workspaceId: sa.workspaceId },
      }),
  );
}

export async function revokeKey(
  deps: ServiceDeps,
  caller: Caller,
  subAccountId: string,
  keyId: string,
) {
  await findSubAccount(deps, caller, subAccountId);
  const key = await deps.prisma.subAccountKey.findFirst({
    where: { id: keyId, subAccountId, workspaceId: caller.workspaceId },
  });
  if (!key) throw new NotFoundError('key', keyId);
  if (key.revokedAt) return key;
  const now = deps.now?.() ?? new Date();
  return mutate(
    deps,
    caller,
    () => ({ action: 'key.revoke', targetType: 'key', targetId: keyId }),
    'key',
    (tx: Tx) => tx.subAccountKey.update({ where: { id: keyId }, data: { revokedAt: now } }),
  );
}
