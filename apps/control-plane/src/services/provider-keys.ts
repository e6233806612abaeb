import type { Prisma } from '@tollgate/db';
import { findPrivateAddress } from '@tollgate/policy/private-address';
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../lib/errors.ts';
import { newId } from '../lib/ids.ts';
import { seal } from '../lib/seal.ts';
import { parseInput } from '../lib/validation.ts';
import { type Caller, mutate, type ServiceDeps, type Tx } from './context.ts';
import type { ListPage } from './pagination.ts';

const httpUrl = z
  .string()
  .max(2000)
  .refine((u) => {
    try {
      const url = new URL(u);
      return (
        (url.protocol === 'https:' || url.protocol === 'http:') && !url.username && !url.password
      );
    } catch {
      return false;
    }
  }, 'must be an http(s) URL without credentials');

/** `openai`: OpenAI-compatible (bearer key); `azure`: Azure OpenAI (deployment paths, `api-key`). */
export const PROVIDER_KINDS = ['openai', 'azure'] as const;

/** Providers with their own wire format (not OpenAI-compatible): their keys' kind is their name. */
const NATIVE_KINDS: ReadonlySet<string> = new Set(['anthropic']);

/** The wire flavour a stored key is used with, as answers show it. */
export function keyKind(k: { provider: string; kind: string }): string {
  return NATIVE_KINDS.has(k.provider) ? k.provider : k.kind;
}

/** Azure OpenAI API versions: `2024-10-21`, `2025-01-01-preview`. */
const API_VERSION_PATTERN = /^\d{4}-\d{2}-\d{2}(-preview)?$/;

const createSchema = z
  .strictObject({
    provider: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'provider names are lowercase [a-z0-9_.-]'),
    apiKey: z
      .string()
      .min(8)
      .max(4096)
      .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
    baseUrl: httpUrl.nullable().optional(),
    /** Wire flavour of the upstream; `openai` when absent. */
    kind: z.enum(PROVIDER_KINDS).optional(),
    /** Azure OpenAI `api-version` (kind `azure` only); absent = the platform default. */
    apiVersion: z
      .string()
      .regex(
        API_VERSION_PATTERN,
        'must be an Azure OpenAI api-version like 2024-10-21 or 2025-01-01-preview',
      )
      .nullable()
      .optional(),
  })
  .superRefine((input, ctx) => {
    if (NATIVE_KINDS.has(input.provider) && input.kind !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['kind'],
        message: `cannot be set for ${input.provider}, which speaks its own API`,
      });
      return;
    }
    if (input.apiVersion != null && input.kind !== 'azure') {
      ctx.addIssue({
        code: 'custom',
        path: ['apiVersion'],
        message: "is only allowed with kind 'azure'",
      });
    }
  });

export interface ProviderKeyDeps extends ServiceDeps {
  /** Allow BYOK base URLs on loopback/private/link-local addresses (TOLLGATE_ALLOW_PRIVATE_UPSTREAMS:
   * on-prem, tests). Off by default: a workspace admin must not reach the platform's network. */
  allowPrivateUpstreams?: boolean;
}

/**
 * SSRF guard of a workspace-supplied base URL: refused when its host is a non-public address
 * literal, a local name (`localhost`, `*.internal`) or a name resolving to any non-public address.
 * A name that does not resolve now is accepted: the data plane checks every address again when it
 * connects (the name may change meanwhile, DNS rebinding).
 */
async function checkBaseUrl(deps: ProviderKeyDeps, baseUrl: string | null | undefined) {
  if (baseUrl == null || deps.allowPrivateUpstreams) return;
  const address = await findPrivateAddress(new URL(baseUrl).hostname);
  if (address !== null) {
    throw new ValidationError(
      `baseUrl: private, loopback and link-local addresses are not allowed (${address})`,
      'baseUrl',
    );
  }
}

/** BYOK: stored sealed with TOLLGATE_SECRET_KEY; the plaintext is never returned again. With
 * `subAccountId`, the key belongs to that one sub-account and takes precedence over the
 * workspace's key for its traffic. */
export async function setProviderKey(
  deps: ProviderKeyDeps,
  caller: Caller,
  raw: unknown,
  subAccountId = '',
) {
  const input = parseInput(createSchema, raw);
  await checkBaseUrl(deps, input.baseUrl);
  if (subAccountId !== '') {
    const sa = await deps.prisma.subAccount.findFirst({
      where: { id: subAccountId, workspaceId: caller.workspaceId, status: { not: 'deleted' } },
    });
    if (!sa) throw new NotFoundError('sub-account', subAccountId);
  }
  const data = {
    baseUrl: input.baseUrl ?? null,
    kind: input.kind ?? 'openai',
    apiVersion: input.apiVersion ?? null,
    sealedKey: seal(deps.secretKey, input.apiKey),
    keyHint: input.apiKey.slice(-4),
  };
  return mutate(
    deps,
    caller,
    (k) => ({
      action: 'provider_key.set',
      targetType: 'provider_key',
      targetId: k.id,
      data: subAccountId
        ? { provider: input.provider, sub_account_id: subAccountId }
        : { provider: input.provider },
    }),
    'provider_key',
    (tx: Tx) =>
      tx.providerCredential.upsert({
        where: {
          workspaceId_provider_subAccountId: {
            workspaceId: caller.workspaceId,
            provider: input.provider,
            subAccountId,
          },
        },
        create: {
          id: newId('pk'),
          workspaceId: caller.workspaceId,
          provider: input.provider,
          subAccountId,
          ...data,
        },
        update: data,
      }),
  );
}

/** The workspace's keys, or with `subAccountId` that sub-account's own keys. */
export function listProviderKeys(
  deps: ServiceDeps,
  caller: Caller,
  subAccountId = '',
  page: ListPage<Prisma.ProviderCredentialWhereInput> = {},
) {
  return deps.prisma.providerCredential.findMany({
    where: { workspaceId: caller.workspaceId, subAccountId, ...page.after },
    orderBy: { provider: 'asc' },
    take: page.take,
  });
}

export async function deleteProviderKey(deps: ServiceDeps, caller: Caller, id: string) {
  const row = await deps.prisma.providerCredential.findFirst({
    where: { id, workspaceId: caller.workspaceId },
  });
  if (!row) throw new NotFoundError('provider key', id);
  return mutate(
    deps,
    caller,
    () => ({ action: 'provider_key.delete', targetType: 'provider_key', targetId: id }),
    'provider_key',
    (tx: Tx) => tx.providerCredential.delete({ where: { id } }),
    (gone) => ({ kind: 'provider_key', provider: gone.provider, subAccountId: gone.subAccountId }),
  );
}

export { httpUrl };
