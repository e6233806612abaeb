import { hash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { CompiledPolicy } from '@tollgate/policy';
import { defaultMaxTokenField } from '../providers/registry.ts';
import type { EndpointSpec } from '../providers/types.ts';
import type { ErrorSpec } from './errors.ts';
import type { ParsedRequest } from './parse.ts';

export function bearerHash(req: IncomingMessage): string | null {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (match?.[1] === undefined) return null;
  return hash('sha256', match[1], 'hex');
}

/** The key of an Anthropic SDK client: `x-api-key`, or a bearer token like everywhere else. */
export function anthropicKeyHash(req: IncomingMessage): string | null {
  const bearer = bearerHash(req);
  if (bearer !== null) return bearer;
  const key = req.headers['x-api-key'];
  if (typeof key !== 'string' || key.trim() === '') return null;
  return hash('sha256', key.trim(), 'hex');
}

export const INVALID_KEY: ErrorSpec = {
  status: 401,
  type: 'invalid_request_error',
  code: 'invalid_api_key',
  message: 'Incorrect API key provided.',
};

const ADMIN_KEY_REFUSED: ErrorSpec = {
  ...INVALID_KEY,
  message:
    'An admin key (sk-tg-admin-…) is not accepted here: the OpenAI-compatible API takes a sub-account key (sk-tg-…).',
};

/** The key as presented (bearer token, else Anthropic's `x-api-key`); null when none. */
function presentedKey(req: IncomingMessage): string | null {
  const auth = req.headers.authorization;
  const presented =
    typeof auth === 'string' ? auth.replace(/^Bearer\s+/i, '') : req.headers['x-api-key'];
  return typeof presented === 'string' ? presented.trim() : null;
}

/** The 401 for a key this data plane does not know; an admin key is told where it belongs (it is
 * the likeliest mix-up — the reverse case, on the admin API, says so too). */
export function keyRefusal(req: IncomingMessage): ErrorSpec {
  return presentedKey(req)?.startsWith('sk-tg-admin-') ? ADMIN_KEY_REFUSED : INVALID_KEY;
}

/** How long a request with an unknown `sk-tg-` key waits for a newer policy that may hold it. */
export const FRESH_KEY_WAIT_MS = 1_000;

/** Whether an unknown key looks like a sub-account key (`sk-tg-…`, not an admin key): one minted
 * moments ago may not have reached this data plane yet. */
function mayBeFreshKey(req: IncomingMessage): boolean {
  const key = presentedKey(req);
  return key?.startsWith('sk-tg-') === true && !key.startsWith('sk-tg-admin-');
}

/**
 * The policy that knows `keyHash`: the one in force, or — for an unknown `sk-tg-` key, minted
 * moments ago and in the next policy on its way here (SPEC: within 1 s) — the newer one arriving
 * within FRESH_KEY_WAIT_MS, rather than refusing a customer's first request. Null: no policy knows it.
 */
export async function policyKnowing(
  policy: CompiledPolicy,
  keyHash: string,
  req: IncomingMessage,
  holder: {
    policy: () => CompiledPolicy | null;
    newerPolicy?: (revision: number, ms: number) => Promise<boolean>;
  },
): Promise<CompiledPolicy | null> {
  if (policy.keysByHash.get(keyHash) !== undefined) return policy;
  if (holder.newerPolicy === undefined || !mayBeFreshKey(req)) return null;
  if (!(await holder.newerPolicy(policy.revision, FRESH_KEY_WAIT_MS))) return null;
  const next = holder.policy();
  return next?.keysByHash.get(keyHash) !== undefined ? next : null;
}

export const NO_POLICY: ErrorSpec = {
  status: 503,
  type: 'service_unavailable',
  code: 'policy_not_loaded',
  message: 'The gateway has not loaded its policy yet; retry shortly.',
  headers: { 'retry-after': '1' },
};

export function headerTags(req: IncomingMessage): string[] {
  const out: string[] = [];
  for (const name of ['x-tollgate-tag', 'x-aig-tag']) {
    const v = req.headers[name];
    if (typeof v === 'string') out.push(utf8(v));
    else if (Array.isArray(v)) out.push(...v.map(utf8));
  }
  return out;
}

/** Node reads header bytes as latin1: a client's UTF-8 tag (refused — tags are ASCII) is shown as
 * it was sent ("ünï", not "Ã¼nÃ¯"). ASCII, every valid tag, passes untouched. */
function utf8(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range itself
  return /^[\x00-\x7f]*$/.test(value) ? value : Buffer.from(value, 'latin1').toString('utf8');
}

/** The body as forwarded: provider prefix stripped, usage asked for on streams, our own fields
 * (`metadata.tags`) removed, output bound lowered when the budget required it. */
export function rewriteBody(
  p: ParsedRequest,
  endpoint: EndpointSpec,
  provider: string,
  clampTo: number | null,
  upstreamModel: (name: string) => string | null = (name) => name,
  /** The output bound written on a clamp when the request set none (default: the registry's). */
  maxTokenField: string | null = defaultMaxTokenField(endpoint, provider),
): { body: Buffer; stripUsage: boolean } {
  const body: Record<string, unknown> = { ...p.body };
  const model = upstreamModel(p.model.slice(provider.length + 1));
  // null: the upstream names the model elsewhere (Azure OpenAI: the deployment in the URL).
  if (model === null) delete body.model;
  else body.model = model;
  let stripUsage = false;
  if (p.stream && endpoint.streamUsageOption && !p.clientWantsUsage) {
    const options =
      typeof body.stream_options === 'object' && body.stream_options !== null
        ? body.stream_options
        : {};
    body.stream_options = { ...options, include_usage: true };
    stripUsage = true;
  }
  if (
    p.bodyTags.length > 0 ||
    (body.metadata as Record<string, unknown> | undefined)?.tags !== undefined
  ) {
    const { tags: _tags, ...rest } = body.metadata as Record<string, unknown>;
    if (Object.keys(rest).length === 0) delete body.metadata;
    else body.metadata = rest;
  }
  if (clampTo !== null) {
    const present = endpoint.maxTokenFields.filter(
      (f) => body[f] !== undefined && body[f] !== null,
    );
    const fields = present.length > 0 ? present : [maxTokenField];
    for (const f of fields) if (f !== null) body[f] = clampTo;
  }
  return { body: Buffer.from(JSON.stringify(body)), stripUsage };
}
