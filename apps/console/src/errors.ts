// Turning what can go wrong into one plain sentence for the alert region.

export interface ErrorLike {
  networkError?: { message?: string } | undefined;
  graphQLErrors?: ReadonlyArray<{ message: string; extensions?: Record<string, unknown> }>;
  response?: { status?: number } | undefined;
  message?: string;
}

export type Problem = { kind: 'auth' | 'network' | 'input' | 'server'; message: string };

/** A refused key, a lost connection, a validation message or a server failure, said plainly. */
export function describeError(err: ErrorLike | null | undefined): Problem | null {
  if (!err) return null;
  const gql = err.graphQLErrors ?? [];
  const code = (e: { extensions?: Record<string, unknown> }) => e.extensions?.code;
  const auth = gql.find((e) => code(e) === 'UNAUTHENTICATED' || code(e) === 'FORBIDDEN');
  if (auth || err.response?.status === 401 || err.response?.status === 403) {
    return {
      kind: 'auth',
      message: `The admin key was refused${auth ? `: ${auth.message}` : ''}. Sign in again with a valid admin key.`,
    };
  }
  const bad = gql.find(
    (e) => code(e) === 'BAD_USER_INPUT' || code(e) === 'GRAPHQL_VALIDATION_FAILED',
  );
  if (bad) return { kind: 'input', message: bad.message };
  if (err.networkError) {
    return {
      kind: 'network',
      message:
        'Cannot reach the Tollgate control plane — the connection was lost or the server is down. Retrying when you act again.',
    };
  }
  if (gql.length > 0) return { kind: 'server', message: gql.map((e) => e.message).join('; ') };
  return { kind: 'server', message: err.message ?? 'Something went wrong.' };
}

/** A typed mutation result (`… | ValidationError | NotFoundError | ConflictError`) → its message. */
export function resultError(
  result: { __typename: string; message?: string; field?: string | null } | null | undefined,
): string | null {
  if (!result) return null;
  if (!result.__typename.endsWith('Error')) return null;
  if (result.__typename === 'ValidationError')
    return validationMessage(result.field, result.message ?? '');
  return result.message ?? result.__typename;
}

// The API's ValidationError messages are written for developers: `<field>: <zod's wording>`
// ("markupPercent: Too big: expected number to be <=1000"). The console says them as sentences that
// name the field as its forms do ("Markup must be at most 1000 %."), with the API's bounds in the
// field's own unit (dollars for cents, % for a markup).

type Unit = 'cents' | 'perMtok' | 'percent' | 'count';

/** The API's input fields (camelCase, as ValidationError.field names them): label and unit. */
const API_FIELDS: Record<string, { label: string; unit?: Unit }> = {
  name: { label: 'Name' },
  status: { label: 'Status' },
  spendCapCents: { label: 'Spend cap', unit: 'cents' },
  capCents: { label: 'Cap', unit: 'cents' },
  monthlyCapCents: { label: 'Monthly cap', unit: 'cents' },
  lowBalanceThresholdCents: { label: 'Low balance threshold', unit: 'cents' },
  amountCents: { label: 'Amount', unit: 'cents' },
  inputPerMtokCents: { label: 'Input price', unit: 'perMtok' },
  outputPerMtokCents: { label: 'Output price', unit: 'perMtok' },
  cachedInputPerMtokCents: { label: 'Cached input price', unit: 'perMtok' },
  cacheWritePerMtokCents: { label: 'Cache write price', unit: 'perMtok' },
  markupPercent: { label: 'Markup', unit: 'percent' },
  byokWaivesMarkup: { label: 'BYOK waives markup' },
  rateLimitRpm: { label: 'Requests per minute', unit: 'count' },
  rateLimitRpd: { label: 'Requests per day', unit: 'count' },
  rateLimitTpm: { label: 'Tokens per minute', unit: 'count' },
  maxConcurrent: { label: 'Concurrent requests', unit: 'count' },
  allowedModels: { label: 'Allowed models' },
  fallbackModel: { label: 'Fallback model' },
  defaultTag: { label: 'Default tag' },
  budgetPeriod: { label: 'Budget period' },
  period: { label: 'Budget period' },
  plan: { label: 'Plan' },
  inherit: { label: 'Settings that follow the plan' },
  prepaid: { label: 'Prepaid balance' },
  externalId: { label: 'External id' },
  metadata: { label: 'Metadata' },
  tag: { label: 'Tag' },
  reference: { label: 'Reference' },
  url: { label: 'URL' },
  events: { label: 'Events' },
  provider: { label: 'Provider' },
  apiKey: { label: 'API key' },
  baseUrl: { label: 'Base URL' },
  kind: { label: 'Kind' },
  apiVersion: { label: 'API version' },
  model: { label: 'Model' },
  first: { label: 'Page size', unit: 'count' },
  window: { label: 'Window' },
  month: { label: 'Month' },
};

/** "defaultTag" → "Default tag" for a field the table does not know. */
function wordsOf(field: string): string {
  const words = field
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/_/g, ' ')
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The label of an API field, as the console's forms call it ("markupPercent" → "Markup"). */
export function fieldLabel(field: string): string {
  return API_FIELDS[field]?.label ?? wordsOf(field);
}

/** A bound of the API (a plain number) in the field's unit: "$1,000,000.00", "1000 %". */
function amount(n: string, unit: Unit | undefined): string {
  const value = Number(n);
  if (!Number.isFinite(value)) return n;
  switch (unit) {
    case 'cents':
      return formatCents(value);
    case 'perMtok':
      return `${formatCents(value)} per million tokens`;
    case 'percent':
      return `${n} %`;
    case 'count':
      return value.toLocaleString('en-US');
    default:
      return n;
  }
}

/** Whole dollars and cents ("$1,000,000.00"); the API's money bounds are whole cents. */
function formatCents(cents: number): string {
  const dollars = cents / 100;
  return `$${dollars.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 4 })}`;
}

/**
 * What is wrong with a field, said after its label: a predicate ("must be at most 1000 %") or,
 * after a colon, a clause of its own ("x is not one of the allowed models").
 */
type Said = { predicate: string } | { clause: string };
type Rule = [RegExp, (m: RegExpExecArray, unit: Unit | undefined) => Said];

const must = (predicate: string): Said => ({ predicate });
const lengthBound = (op: string, n: string, below: boolean) =>
  Number(n) + (op.length === 1 ? (below ? -1 : 1) : 0);
const TYPE_WORDS: Record<string, string> = {
  number: 'a number',
  string: 'text',
  boolean: 'yes or no',
  array: 'a list',
  object: 'an object',
};

/** The API's wordings (zod's, @tollgate/pricing's exact money conversion, its own checks). */
const RULES: Rule[] = [
  [
    /^Too big: expected (?:number|int|bigint) to be (<=?)\s*(\S+)$/,
    (m, unit) => must(`must be ${m[1] === '<' ? 'less than' : 'at most'} ${amount(m[2]!, unit)}`),
  ],
  [
    /^Too small: expected (?:number|int|bigint) to be (>=?)\s*(\S+)$/,
    (m, unit) => {
      if (Number(m[2]) === 0)
        return must(m[1] === '>=' ? 'must not be negative' : 'must be more than zero');
      return must(`must be ${m[1] === '>' ? 'more than' : 'at least'} ${amount(m[2]!, unit)}`);
    },
  ],
  [
    /^Too big: expected string to have (<=?)\s*(\d+) characters?$/,
    (m) => must(`must be at most ${lengthBound(m[1]!, m[2]!, true)} characters long`),
  ],
  [
    /^Too small: expected string to have (>=?)\s*(\d+) characters?$/,
    (m) => {
      const n = lengthBound(m[1]!, m[2]!, false);
      return must(n <= 1 ? 'must not be empty' : `must be at least ${n} characters long`);
    },
  ],
  [
    /^Too big: expected array to have (<=?)\s*(\d+) items?$/,
    (m) => must(`may list at most ${lengthBound(m[1]!, m[2]!, true)}`),
  ],
  [
    /^Too small: expected array to have (>=?)\s*(\d+) items?$/,
    (m) => {
      const n = lengthBound(m[1]!, m[2]!, false);
      return must(n <= 1 ? 'must list at least one' : `must list at least ${n}`);
    },
  ],
  [/^Invalid input: expected int\b/, () => must('must be a whole number')],
  [
    /^Invalid input: expected (number|string|boolean|array|object)\b/,
    (m) => must(`must be ${TYPE_WORDS[m[1]!]}`),
  ],
  [
    /^Invalid option: expected one of (.+)$/,
    (m) =>
      must(
        `must be one of ${m[1]!
          .split('|')
          .map((o) => o.replace(/^"|"$/g, ''))
          .join(', ')}`,
      ),
  ],
  [/^Invalid (?:string|format): must match pattern/, () => must('is not in the accepted format')],
  [/^Invalid (?:URL|url)\b/, () => must('must be a valid URL')],
  [/^cents must not be negative\b/, () => must('must not be negative')],
  [/^cents must be a finite number\b/, () => must('must be a number')],
  [
    /^cents has more than 4 decimals\b/,
    () => must('may have at most 6 decimals (one micro-dollar)'),
  ],
  [/^cents is not a plain decimal\b/, () => must('must be a plain decimal amount')],
  [/^micros exceeds\b/, () => must('is too large')],
  [/^at most 2 decimals$/, () => must('may have at most 2 decimals')],
  [/^NUL characters are not allowed/, () => must('must not contain NUL characters')],
  [
    /^nested deeper than (\d+) levels$/,
    (m) => must(`must not be nested deeper than ${m[1]} levels`),
  ],
  [
    /^unknown model '([^']*)' \(no price\)$/,
    (m) => ({ clause: `${m[1]} has no price; set one on the Prices page first` }),
  ],
  [
    /^'([^']*)' is not in the allowed models$/,
    (m) => ({ clause: `${m[1]} is not one of the allowed models` }),
  ],
  [/^unknown plan '([^']*)'$/, (m) => ({ clause: `there is no plan named ${m[1]}` })],
  // "tags are 1–64 characters of …", "plan names are …", "models are named 'provider/model'".
  [/^(?:[a-z_ ]+ )?(?:names|tags|models) are (.+)$/, (m) => must(`must be ${m[1]}`)],
];

function said(detail: string, unit: Unit | undefined, names: string[]): Said | null {
  for (const [pattern, say] of RULES) {
    const m = pattern.exec(detail);
    if (m) return say(m, unit);
  }
  // A check that names the field itself: "amount_cents must be at most 100000000",
  // "reference is printable ASCII, no edge spaces".
  for (const name of names) {
    if (!detail.startsWith(`${name} `)) continue;
    const rest = detail
      .slice(name.length + 1)
      .replace(
        /\b(at most|at least) (\d+)$/,
        (_, op: string, n: string) => `${op} ${amount(n, unit)}`,
      );
    if (/^is (?!not\b)/.test(rest)) return must(`must be ${rest.slice(3)}`);
    if (/^(must|may|is|has|cannot) /.test(rest)) return must(rest);
  }
  if (/^(must|may|is|has|cannot) /.test(detail)) return must(detail);
  return null;
}

const sentence = (text: string) => {
  const t = text.trim();
  const s = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
};

/**
 * A ValidationError of the API as one sentence naming the field as the forms do: `markupPercent`,
 * "markupPercent: Too big: expected number to be <=1000" → "Markup must be at most 1000 %.". The
 * field comes from `field`, else from the message's "<field>: " prefix; `labels` renames fields
 * for one form (the workspace's cap is its "Workspace cap").
 */
export function validationMessage(
  field: string | null | undefined,
  message: string,
  labels: Record<string, string> = {},
): string {
  let path = field ?? null;
  let detail = message.trim();
  const prefix = /^([A-Za-z_][\w.]*): (.+)$/s.exec(detail);
  if (prefix && (path === null || prefix[1] === path)) {
    path = prefix[1]!;
    detail = prefix[2]!;
  }
  // `unknown field 'x'`: the console sent a field the API does not take (an older console).
  const unknownField = /^unknown field '([^']*)'$/.exec(detail);
  if (unknownField)
    return `The API does not accept the field ${unknownField[1]}; reload the console and try again.`;
  if (!path) return sentence(detail || 'The API refused the input');
  const [root = path, index] = path.split('.');
  const label =
    labels[root] ??
    fieldLabel(root) +
      (index !== undefined && /^\d+$/.test(index) ? ` (item ${Number(index) + 1})` : '');
  const snake = root.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  const what = said(detail, API_FIELDS[root]?.unit, [root, snake]);
  if (what === null) return sentence(`${label}: ${detail}`);
  return sentence('clause' in what ? `${label}: ${what.clause}` : `${label} ${what.predicate}`);
}
