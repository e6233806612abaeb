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

const port = z.coerce.number().int().min(0).max(65_535);
const secretKey = z
  .string()
  .refine(
    (v) => Buffer.from(v, 'base64').length === 32,
    'must be 32 bytes, base64-encoded (openssl rand -base64 32)',
  );

const schema = z.object({
  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  REDIS_URL: url(['redis:', 'rediss:']).optional(),
  TOLLGATE_DATA_DIR: z.string().min(1).default('./.tollgate'),
  TOLLGATE_ADMIN_KEY: z
    .string()
    .regex(
      /^sk-tg-admin-[A-Za-z0-9]{32,}$/,
      "must look like 'sk-tg-admin-' + at least 32 letters/digits",
    )
    .optional(),
  TOLLGATE_ROOT_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
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
  TOLLGATE_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  OPENAI_API_KEY: z.string().optional(),
  OPENAI_BASE_URL: url(['http:', 'https:']).optional(),
  ANTHROPIC_API_KEY: z.string().optional(),
  ANTHROPIC_BASE_URL: url(['http:', 'https:']).optional(),
});

export type Env = z.infer<typeof schema>;

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
  if (result.success) return result.data;
  throw new EnvError(
    result.error.issues.map((i) => `invalid configuration: ${i.path.join('.')} ${i.message}`),
  );
}
