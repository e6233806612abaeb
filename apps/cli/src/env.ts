import { trustedProxies } from '@tollgate/control-plane/client-address';
import { z } from 'zod';

/**
 * The only place that reads process.env (DESIGN rule 4). Every problem is reported at once, one
 * line per variable, and start-up stops. Secrets are never echoed back.
 */
const url = (protocols: string[]) =>
  z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    `must be a ${protocols.join(' or ')} URL`,
  );

const PORT = 'must be a port number (0-65535; 0: any free port)';
/** Decimal digits only: `z.coerce.number()` took ' ' (0), '0x4852' and '1e4'. */
const port = z
  .string()
  .regex(/^[0-9]{1,5}$/, PORT)
  .transform(Number)
  .refine((n) => n <= 65_535, PORT);
/** A whole number of decimal digits in [min, max] (no signs, exponents, hex or blanks). */
const integer = (min: number, max: number) => {
  const message = `must be a whole number from ${min} to ${max}`;
  return z
    .string()
    .regex(/^[0-9]{1,10}$/, message)
    .transform(Number)
    .refine((n) => n >= min && n <= max, message);
};

/**
 * The 32 bytes of a canonical standard-base64 key (44 characters, one `=`), or null. Node's
 * decoder skips characters outside the alphabet, so `!!<key>!!` would otherwise pass.
 */
export function decodeSecretKey(value: string): Buffer | null {
  if (!/^[A-Za-z0-9+/]{43}=$/.test(value)) return null;
  const key = Buffer.from(value, 'base64');
  return key.length === 32 && key.toString('base64') === value ? key : null;
}
const secretKey = z
  .string()
  .refine(
    (v) => decodeSecretKey(v) !== null,
    "must be 32 bytes in standard base64: 44 characters ending in '=' (openssl rand -base64 32)",
  );

const schema = z.object({
  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  REDIS_URL: url(['redis:', 'rediss:']).optional(),
  TOLLGATE_DATA_DIR: z.string().min(1).default('./.tollgate'),
  TOLLGATE_ADMIN_KEY: z
    .string()
    .regex(
      /^sk-tg-admin-[A-Za-z0-9]{43,}$/,
      // SPEC §3: at least 32 random bytes in base62 — 43 characters, as the generated keys have.
      "must look like 'sk-tg-admin-' + at least 43 letters/digits (32 random bytes, base62)",
    )
    .optional(),
  TOLLGATE_ROOT_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  /** Set: `/metrics` on both planes takes it as a bearer token; unset: `/metrics` is open. */
  TOLLGATE_METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  TOLLGATE_SECRET_KEY: secretKey.optional(),
  TOLLGATE_HOST: z.string().min(1).default('127.0.0.1'),
  TOLLGATE_DATA_PLANE_PORT: port.default(8080),
  TOLLGATE_CONTROL_PLANE_PORT: port.default(4000),
  TOLLGATE_CONTROL_PLANE_URL: url(['http:', 'https:']).optional(),
  /** Percentages of a cap at which a `warning` budget event fires, once per period each (SPEC §8). */
  TOLLGATE_BUDGET_WARNING_PERCENTS: z
    .string()
    .default('80')
    .transform((v, ctx) => {
      const parts = v.split(',').map((p) => p.trim());
      const nums = parts.map(Number);
      if (parts.some((p) => !/^\d{1,2}(\.\d+)?$/.test(p)) || nums.some((n) => n <= 0 || n >= 100)) {
        ctx.addIssue({
          code: 'custom',
          message:
            "must be a comma-separated list of percentages between 0 and 100, e.g. '50,80,95'",
        });
        return z.NEVER;
      }
      return [...new Set(nums)].sort((a, b) => a - b).map((n) => n / 100);
    }),
  /** Namespace of every Redis key, channel and stream: several installations may share one Redis. */
  TOLLGATE_REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,32}$/, 'must be 1-32 characters of A-Z a-z 0-9 _ . -')
    .default('tg'),
  TOLLGATE_ALLOW_PRIVATE_WEBHOOKS: z
    .enum(['true', 'false', '1', '0'])
    .default('false')
    .transform((v) => v === 'true' || v === '1'),
  /** Allow workspace-supplied (BYOK) provider base URLs on loopback, private and link-local
   * addresses; the platform's own upstreams (OPENAI_BASE_URL, …) are never restricted. */
  TOLLGATE_ALLOW_PRIVATE_UPSTREAMS: z
    .enum(['true', 'false', '1', '0'])
    .default('false')
    .transform((v) => v === 'true' || v === '1'),
  /** While Redis is unreachable: refuse (503) requests with a spend cap or a rate limit, or serve
   * them unreserved and unmetered live (still billed in the books). Unlimited ones are always served. */
  /** Proxies whose `x-forwarded-for` the control plane believes (addresses, CIDR ranges,
   * `loopback`, `none`): failed authentications are counted per client behind them. */
  TOLLGATE_TRUSTED_PROXIES: z
    .string()
    .default('loopback')
    .transform((v, ctx) => {
      try {
        return trustedProxies(v);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
  TOLLGATE_REDIS_DOWN: z.enum(['fail-closed', 'fail-open']).default('fail-closed'),
  /** How long an unsettled reservation holds budget (a data plane killed mid-request). */
  TOLLGATE_RESERVATION_TTL_SECONDS: integer(5, 86_400).default(600),
  /** How long a data plane stopping (SIGTERM) lets requests in flight finish before cutting them. */
  TOLLGATE_DRAIN_TIMEOUT_SECONDS: integer(1, 3_600).default(25),
  TOLLGATE_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  OPENAI_API_KEY: z.string().optional(),
  OPENAI_BASE_URL: url(['http:', 'https:']).optional(),
  ANTHROPIC_API_KEY: z.string().optional(),
  ANTHROPIC_BASE_URL: url(['http:', 'https:']).optional(),
});

/** An OpenAI-compatible provider registered by name (`TOLLGATE_PROVIDER_<NAME>_BASE_URL`, `_API_KEY`,
 * and for Azure OpenAI `_KIND=azure` with an optional `_API_VERSION`). */
export interface ProviderEnv {
  /** Base URL including the API version segment, e.g. `https://api.groq.com/openai/v1`; for Azure
   * OpenAI the resource endpoint, e.g. `https://my-resource.openai.azure.com`. */
  baseUrl: string;
  apiKey?: string;
  /** `azure`: Azure OpenAI wire conventions (deployments, `api-version`, `api-key` header). */
  kind?: 'openai' | 'azure';
  /** Azure OpenAI `api-version` (default: the data plane's recent GA version). */
  apiVersion?: string;
}

export type Env = z.infer<typeof schema> & {
  /** By provider name: `<NAME>` lower-cased, `_` → `-` (`TOGETHER_AI` → `together-ai`). */
  TOLLGATE_PROVIDERS?: Record<string, ProviderEnv>;
};

const PROVIDER_VAR = /^TOLLGATE_PROVIDER_([A-Z0-9_]+?)_(BASE_URL|API_KEY|KIND|API_VERSION)$/;
const API_VERSION = /^\d{4}-\d{2}-\d{2}(-preview)?$|^v1$|^latest$|^preview$/;
/** Configured by their own variables (OPENAI_*, ANTHROPIC_*). */
const OWN_VARIABLES = new Set(['openai', 'anthropic']);

/** The named providers, or the problems found (one line per variable, secrets never echoed). */
function parseProviders(source: Record<string, string>, problems: string[]) {
  const providers: Record<string, ProviderEnv> = {};
  const keys = new Map<string, [string, string]>();
  /** KIND and API_VERSION, applied once the BASE_URL is known. */
  const extras = new Map<string, [string, 'KIND' | 'API_VERSION', string][]>();
  const refused = new Set<string>();
  for (const [name, value] of Object.entries(source)) {
    const m = PROVIDER_VAR.exec(name);
    if (m === null) continue;
    const provider = m[1]!.toLowerCase().replaceAll('_', '-');
    if (OWN_VARIABLES.has(provider)) {
      refused.add(provider);
      problems.push(`invalid configuration: ${name} use the ${m[1]}_* variables for ${provider}`);
    } else if (m[2] === 'API_KEY') keys.set(provider, [name, value]);
    else if (m[2] === 'KIND' || m[2] === 'API_VERSION') {
      const list = extras.get(provider) ?? [];
      list.push([name, m[2], value]);
      extras.set(provider, list);
    } else if (url(['http:', 'https:']).safeParse(value).success) {
      providers[provider] = { baseUrl: value };
    } else {
      refused.add(provider);
      problems.push(`invalid configuration: ${name} must be a http: or https: URL`);
    }
  }
  for (const [provider, [name, apiKey]] of keys) {
    const p = providers[provider];
    if (p !== undefined) p.apiKey = apiKey;
    else if (!refused.has(provider)) {
      problems.push(`invalid configuration: ${name} needs ${name.replace(/API_KEY$/, 'BASE_URL')}`);
    }
  }
  for (const [provider, list] of extras) {
    const p = providers[provider];
    for (const [name, field, value] of list) {
      if (p === undefined) {
        if (!refused.has(provider))
          problems.push(
            `invalid configuration: ${name} needs ${name.replace(/_[A-Z]+(_VERSION)?$/, '_BASE_URL')}`,
          );
      } else if (field === 'KIND') {
        if (value === 'azure' || value === 'openai') p.kind = value;
        else problems.push(`invalid configuration: ${name} must be openai or azure`);
      } else if (API_VERSION.test(value)) p.apiVersion = value;
      else problems.push(`invalid configuration: ${name} must be an api-version like 2024-10-21`);
    }
    if (p?.apiVersion !== undefined && p.kind !== 'azure') {
      problems.push(
        `invalid configuration: TOLLGATE_PROVIDER_${provider.toUpperCase().replaceAll('-', '_')}_API_VERSION applies to KIND=azure only`,
      );
    }
  }
  return providers;
}

export class EnvError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

/** Empty strings count as unset, so `FOO=` in a compose file does not fail validation oddly. */
export function parseEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const cleaned = Object.fromEntries(
    Object.entries(source).filter(([, v]) => v !== undefined && v !== ''),
  );
  const result = schema.safeParse(cleaned);
  const problems = result.success
    ? []
    : result.error.issues.map((i) => `invalid configuration: ${i.path.join('.')} ${i.message}`);
  const providers = parseProviders(cleaned as Record<string, string>, problems);
  if (!result.success || problems.length > 0) throw new EnvError(problems);
  return { ...result.data, TOLLGATE_PROVIDERS: providers };
}

/** The TOLLGATE_* variables this version reads by name (the providers' follow PROVIDER_VAR). */
const KNOWN_VARIABLES = Object.keys(schema.shape).filter((name) => name.startsWith('TOLLGATE_'));

/** Edit distance of two short names (insertions, deletions, substitutions). */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(
        row[j]! + 1,
        next[j - 1]! + 1,
        row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    row = next;
  }
  return row[b.length]!;
}

/**
 * TOLLGATE_* variables set but read by nothing — a mistyped name leaves its setting at the default
 * without a word — each with the setting it most likely meant (null when none is close). Names
 * only: their values may be secrets.
 */
export function unknownVariables(
  source: NodeJS.ProcessEnv = process.env,
): { name: string; meant: string | null }[] {
  return Object.keys(source)
    .filter((name) => name.startsWith('TOLLGATE_'))
    .filter((name) => !KNOWN_VARIABLES.includes(name) && !PROVIDER_VAR.test(name))
    .sort()
    .map((name) => {
      // A name cut short or run on (TOLLGATE_DRAIN_TIMEOUT), else the closest within 3 edits.
      let meant = KNOWN_VARIABLES.find((k) => k.startsWith(name) || name.startsWith(k)) ?? null;
      let best = meant ? 0 : 4;
      for (const known of KNOWN_VARIABLES) {
        const d = distance(name, known);
        if (d < best) [meant, best] = [known, d];
      }
      return { name, meant };
    });
}

/**
 * `tollgate start` runs both planes in one process: they cannot share a port (0 — any free port —
 * excepted). Checked before anything is opened, like every other configuration problem.
 */
export function checkPlanePorts(env: Env): void {
  const dp = env.TOLLGATE_DATA_PLANE_PORT;
  if (dp !== 0 && dp === env.TOLLGATE_CONTROL_PLANE_PORT) {
    throw new EnvError([
      `invalid configuration: TOLLGATE_DATA_PLANE_PORT and TOLLGATE_CONTROL_PLANE_PORT are both ${dp} (both planes run in this process: give each its own port)`,
    ]);
  }
}
