import { NotFoundError, ValidationError } from '../../lib/errors.ts';
import { centsOf } from '../../lib/money.ts';
import * as usage from '../../services/usage.ts';
import { callerFor, serviceInput, withInputErrors } from '../access.ts';
import { builder } from '../builder.ts';

type Report = Awaited<ReturnType<typeof usage.usageReport>>;
type Totals = Report['byModel'][number];

// Token sums are Float: over long windows they outgrow GraphQL's 32-bit Int.

type TokenSums = Pick<
  Totals,
  'inputTokens' | 'outputTokens' | 'cachedInputTokens' | 'cacheWriteTokens'
>;

/** The token sums of a usage row: the prompt is `inputTokens` (at the input rate) plus the tokens
 * read from and written to the provider's cache. */
type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;

const tokenFields = <T extends TokenSums>(t: PothosSchemaTypes.ObjectFieldBuilder<Types, T>) => ({
  inputTokens: t.float({
    description:
      "Input tokens billed at the input rate (not read from or written to the provider's cache).",
    resolve: (u) => Number(u.inputTokens),
  }),
  outputTokens: t.float({ resolve: (u) => Number(u.outputTokens) }),
  cachedInputTokens: t.float({
    description: "Input tokens read from the provider's prompt cache.",
    resolve: (u) => Number(u.cachedInputTokens),
  }),
  cacheWriteTokens: t.float({
    description: "Input tokens written to the provider's prompt cache.",
    resolve: (u) => Number(u.cacheWriteTokens),
  }),
});

const UsageSummary = builder.objectRef<Report['summary']>('UsageSummary').implement({
  fields: (t) => ({
    requests: t.exposeInt('requests'),
    costCents: t.float({ resolve: (u) => centsOf(u.costMicros)! }),
    ...tokenFields(t),
    errors: t.exposeInt('errors'),
    blocked: t.exposeInt('blocked'),
  }),
});

const ModelUsage = builder.objectRef<Totals>('ModelUsage').implement({
  fields: (t) => ({
    modelId: t.exposeString('model'),
    requests: t.exposeInt('requests'),
    downgradedRequests: t.exposeInt('downgraded', {
      description: 'Requests this model served in place of the requested one (downgrade routing).',
    }),
    costCents: t.float({ resolve: (u) => centsOf(u.costMicros)! }),
    ...tokenFields(t),
  }),
});

const DayUsage = builder.objectRef<Report['byDay'][number]>('DayUsage').implement({
  fields: (t) => ({
    date: t.exposeString('day', { description: 'UTC day, `YYYY-MM-DD`.' }),
    requests: t.exposeInt('requests'),
    costCents: t.float({ resolve: (u) => centsOf(u.costMicros)! }),
  }),
});

const TagUsage = builder.objectRef<Report['byTag'][number]>('TagUsage').implement({
  fields: (t) => ({
    tag: t.exposeString('tag'),
    requests: t.exposeInt('requests'),
    costCents: t.float({ resolve: (u) => centsOf(u.costMicros)! }),
    ...tokenFields(t),
  }),
});

const UsageReport = builder.objectRef<Report>('UsageReport').implement({
  description: "A sub-account's usage over a range, exact over the raw records.",
  fields: (t) => ({
    from: t.field({ type: 'DateTime', resolve: (r) => r.range.from }),
    to: t.field({ type: 'DateTime', resolve: (r) => r.range.to }),
    summary: t.field({ type: UsageSummary, resolve: (r) => r.summary }),
    byModel: t.field({ type: [ModelUsage], resolve: (r) => r.byModel }),
    byDay: t.field({ type: [DayUsage], resolve: (r) => r.byDay }),
    byTag: t.field({ type: [TagUsage], resolve: (r) => r.byTag }),
  }),
});

const iso = (date: Date | null | undefined) => date?.toISOString();

builder.queryFields((t) => ({
  subAccountUsage: t.field({
    type: UsageReport,
    description: '`window` (`24h`, `7d`, `30d`, `4w`; default 30d) or `from`/`to`.',
    errors: { types: [ValidationError, NotFoundError] },
    args: {
      id: t.arg.id({ required: true }),
      window: t.arg.string(),
      from: t.arg({ type: 'DateTime' }),
      to: t.arg({ type: 'DateTime' }),
    },
    resolve: (_root, { id, window, from, to }, ctx) =>
      usage.subAccountUsage(
        ctx.deps,
        callerFor(ctx, 'workspace.read'),
        id,
        serviceInput({ window, from: iso(from), to: iso(to) }),
      ),
  }),
  usageByTag: t.field({
    type: [TagUsage],
    description:
      'Spend by tag over a calendar month (`2026-04`, UTC) or a window, one row per tag (an aggregate, not paged).',
    errors: { types: [ValidationError] },
    args: {
      month: t.arg.string(),
      window: t.arg.string(),
      from: t.arg({ type: 'DateTime' }),
      to: t.arg({ type: 'DateTime' }),
      tag: t.arg.string(),
    },
    resolve: (_root, { from, to, ...rest }, ctx) =>
      withInputErrors(
        usage.usageByTag(
          ctx.deps,
          callerFor(ctx, 'workspace.read'),
          serviceInput({ ...rest, from: iso(from), to: iso(to) }),
        ),
      ),
  }),
}));
