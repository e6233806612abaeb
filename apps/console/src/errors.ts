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

// The API's ValidationError messages name the field as the API does, then say what is wrong:
// `<field> <predicate>` ("markupPercent must be at most 1000") or `<field>: <clause>`
// ("allowedModels.1: models are named 'provider/model'"). The console says them as sentences that
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
      return formatCents(n);
    case 'perMtok':
      return `${formatCents(n)} per million tokens`;
    case 'percent':
      return `${n} %`;
    case 'count':
      return value.toLocaleString('en-US');
    default:
      return n;
  }
}

/** Cents (a plain decimal, as the API writes its bounds) in dollars, exactly: "100000000" →
 * "$1,000,000.00", "900719925474.0991" → "$9,007,199,254.740991". */
function formatCents(cents: string): string {
  const [whole = '0', fraction = ''] = cents.split('.');
  const digits = whole.padStart(3, '0');
  const dollars = BigInt(digits.slice(0, -2)).toLocaleString('en-US');
  const decimals = `${digits.slice(-2)}${fraction}`.replace(/0+$/, '').padEnd(2, '0');
  return `$${dollars}.${decimals}`;
}

/**
 * What is wrong with a field, said after its label: a predicate ("must be at most 1000 %") or,
 * after a colon, a clause of its own ("x is not one of the allowed models").
 */
type Said = { predicate: string } | { clause: string };
type Rule = [RegExp, (m: RegExpExecArray, unit: Unit | undefined) => Said];

const must = (predicate: string): Said => ({ predicate });
const isMoney = (unit: Unit | undefined) => unit === 'cents' || unit === 'perMtok';

/** The API's wordings that the console says otherwise; any other predicate is said as it is. */
const RULES: Rule[] = [
  // A bound, in the field's unit.
  [
    /^must be (at most|at least|less than|more than) (\d+(?:\.\d+)?)$/,
    (m, unit) => must(`must be ${m[1]} ${amount(m[2]!, unit)}`),
  ],
  // Cents with 4 decimals are dollars with 6.
  [
    /^may have at most 4 decimals$/,
    (m, unit) => must(isMoney(unit) ? 'may have at most 6 decimals (one micro-dollar)' : m[0]),
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

const PREDICATE = /^(must|may|is|has|cannot) /;

function said(detail: string, unit: Unit | undefined): Said | null {
  for (const [pattern, say] of RULES) {
    const m = pattern.exec(detail);
    if (m) return say(m, unit);
  }
  return PREDICATE.test(detail) ? must(detail) : null;
}

const sentence = (text: string) => {
  const t = text.trim();
  const s = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
};

/**
 * A ValidationError of the API as one sentence naming the field as the forms do: `markupPercent`,
 * "markupPercent must be at most 1000" → "Markup must be at most 1000 %.". The field comes from
 * `field`, else from the message itself; `labels` renames fields for one form (the workspace's cap
 * is its "Workspace cap").
 */
export function validationMessage(
  field: string | null | undefined,
  message: string,
  labels: Record<string, string> = {},
): string {
  const text = message.trim();
  // `unknown field 'x'`: the console sent a field the API does not take (an older console).
  const unknownField = /^unknown field '([^']*)'$/.exec(text);
  if (unknownField)
    return `The API does not accept the field ${unknownField[1]}; reload the console and try again.`;
  // "<field> <predicate>" or "<field>: <clause>", the field as the API names it (or in snake_case).
  const named = /^([A-Za-z_][\w.]*)(?:: | (?=(?:must|may|is|has|cannot) ))(.+)$/s.exec(text);
  const snake = (f: string) => f.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  const ours = named && (!field || named[1] === field || named[1] === snake(field));
  const path = field || (ours ? named[1]! : null);
  const detail = ours ? named[2]! : text;
  if (!path) return sentence(detail || 'The API refused the input');
  const [root = path, index] = path.split('.');
  const label =
    labels[root] ??
    fieldLabel(root) +
      (index !== undefined && /^\d+$/.test(index) ? ` (item ${Number(index) + 1})` : '');
  const what = said(detail, API_FIELDS[root]?.unit);
  if (what === null) return sentence(`${label}: ${detail}`);
  return sentence('clause' in what ? `${label}: ${what.clause}` : `${label} ${what.predicate}`);
}
