import { z } from 'zod';
import { ConflictError, NotFoundError } from '../lib/errors.ts';
import { hashKey, mintKey, newId } from '../lib/ids.ts';
import { budgetPeriodField, centsField, markupField, parseInput } from '../lib/validation.ts';
import { type Caller, mutate, type ServiceDeps, type Tx } from './context.ts';
import { allOf, type KeysetPage, keysetOrder, keysetPage } from './keyset.ts';

const createSchema = z.strictObject({
  name: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9 _.-]*$/,
      'must start with a letter or digit and hold only letters, digits, spaces, _ . -',
    ),
  markupPercent: markupField.optional(),
});

/** Advisory lock key serialising workspace creations (the name check and the insert). */
const WORKSPACE_NAMES_LOCK = 7_316_001;

const updateSchema = z.strictObject({
  markupPercent: markupField.optional(),
  spendCapCents: centsField.nullable().optional(),
  budgetPeriod: budgetPeriodField.optional(),
  byokWaivesMarkup: z.boolean().optional(),
});

/**
 * Creates a workspace with its first admin key; the plaintext key is returned exactly once.
 * `givenKey` (start-up's TOLLGATE_ADMIN_KEY) is registered as that first key instead of a new one.
 */
export async function createWorkspace(
  deps: ServiceDeps,
  actor: string,
  raw: unknown,
  givenKey: string | null = null,
) {
  const input = parseInput(createSchema, raw);
  const id = newId('ws');
  const key =
    givenKey === null
      ? mintKey('admin')
      : { hash: hashKey(givenKey), prefix: givenKey.slice(0, 16), plaintext: givenKey };
  const workspace = await mutate(
    deps,
    { workspaceId: id, actor },
    () => ({ action: 'workspace.create', targetType: 'workspace', targetId: id }),
    'workspace',
    async (tx: Tx) => {
      // Names differing only in case are one name to people (`team-a`, `Team-A`): refused, with
      // creations serialised so two of them cannot both pass the check.
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${WORKSPACE_NAMES_LOCK})`;
      const taken = await tx.workspace.findFirst({
        where: { name: { equals: input.name, mode: 'insensitive' } },
        select: { name: true },
      });
      if (taken) throw new ConflictError(`a workspace named '${taken.name}' already exists`);
      const ws = await tx.workspace.create({
        data: { id, name: input.name, markupBp: input.markupPercent ?? 0 },
      });
      await tx.adminKey.create({
        data: {
          id: newId('ak'),
          workspaceId: id,
          hash: key.hash,
          prefix: key.prefix,
          name: givenKey === null ? 'first key' : 'TOLLGATE_ADMIN_KEY',
        },
      });
      return ws;
    },
  );
  return { workspace, adminKey: key.plaintext };
}

const WORKSPACES = keysetOrder('Workspace', 'createdAt', 'id', 'asc');

/** Every workspace (the root key's list), oldest first (creation time, then id). */
export function listWorkspaces(deps: ServiceDeps, page: KeysetPage = {}) {
  return keysetPage(deps.prisma, WORKSPACES, allOf(), page, (ids) =>
    deps.prisma.workspace.findMany({ where: { id: { in: ids } } }),
  );
}

export async function getWorkspace(deps: ServiceDeps, caller: Caller) {
  const ws = await deps.prisma.workspace.findUnique({ where: { id: caller.workspaceId } });
  if (!ws) throw new NotFoundError('workspace', caller.workspaceId);
  return ws;
}

export async function updateWorkspace(deps: ServiceDeps, caller: Caller, raw: unknown) {
  const input = parseInput(updateSchema, raw);
  return mutate(
    deps,
    caller,
    () => ({
      action: 'workspace.update',
      targetType: 'workspace',
      targetId: caller.workspaceId,
      data: Object.keys(input),
    }),
    'workspace',
    (tx: Tx) =>
      tx.workspace.update({
        where: { id: caller.workspaceId },
        data: {
          markupBp: input.markupPercent,
          spendCapMicros:
            input.spendCapCents === undefined
              ? undefined
              : input.spendCapCents === null
                ? null
                : BigInt(input.spendCapCents),
          budgetPeriod: input.budgetPeriod,
          byokWaivesMarkup: input.byokWaivesMarkup,
        },
      }),
  );
}

/**
 * Start-up: make sure a workspace `default` exists. With `adminKey` (TOLLGATE_ADMIN_KEY) that key
 * is registered for it; without, the first start mints one and returns it to be printed once —
 * later starts return null (only its hash was stored). A TOLLGATE_ADMIN_KEY revoked through the
 * admin API stays revoked (`adminKeyRevoked`): restarting with a leaked key still configured must not
 * bring it back.
 */
export async function ensureDefaultWorkspace(
  deps: ServiceDeps,
  adminKey: string | null,
): Promise<{ workspaceId: string; printOnce: string | null; adminKeyRevoked: boolean }> {
  // In any case, as workspace names are compared (see createWorkspace).
  let ws = await deps.prisma.workspace.findFirst({
    where: { name: { equals: 'default', mode: 'insensitive' } },
  });
  let printOnce: string | null = null;
  if (!ws) {
    if ((await deps.prisma.workspace.count()) > 0 && !adminKey) {
      // Other workspaces exist (created by the CLI or the root key): nothing to bootstrap.
      return { workspaceId: '', printOnce: null, adminKeyRevoked: false };
    }
    if (
      adminKey &&
      (await deps.prisma.adminKey.findUnique({ where: { hash: hashKey(adminKey) } }))
    ) {
      throw new ConflictError('TOLLGATE_ADMIN_KEY belongs to another workspace');
    }
    // With TOLLGATE_ADMIN_KEY, that key is the workspace's first (and only) admin key.
    const created = await createWorkspace(deps, 'bootstrap', { name: 'default' }, adminKey);
    ws = created.workspace;
    if (!adminKey) printOnce = created.adminKey;
  }
  let adminKeyRevoked = false;
  if (adminKey) {
    const hash = hashKey(adminKey);
    const existing = await deps.prisma.adminKey.findUnique({ where: { hash } });
    if (existing && existing.workspaceId !== ws.id)
      throw new ConflictError('TOLLGATE_ADMIN_KEY belongs to another workspace');
    if (!existing) {
      await deps.prisma.adminKey.create({
        data: {
          id: newId('ak'),
          workspaceId: ws.id,
          hash,
          prefix: adminKey.slice(0, 16),
          name: 'TOLLGATE_ADMIN_KEY',
        },
      });
    }
    adminKeyRevoked = existing?.revokedAt != null;
  }
  return { workspaceId: ws.id, printOnce, adminKeyRevoked };
}
