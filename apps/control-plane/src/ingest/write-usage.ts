import { Prisma, type PrismaClient, type Tx } from '@tollgate/db';
import type { UsageEvent } from '@tollgate/usage';

/** Events written per transaction: each chunk is four statements whatever its size, and commits
 * on its own, so a large delivery (a backlog after an outage) makes progress chunk by chunk. */
export const WRITE_CHUNK = 1_000;
/** A chunk's transaction may take this long (Prisma's default, 5 s, is short for a busy database:
 * a transaction that expires is rolled back and its delivery comes again, so a backlog that takes
 * longer than that to write would never be written). */
const CHUNK_TIMEOUT_MS = 60_000;

/**
 * Writes usage events to the books: one record per request id (a replayed event is a no-op) and,
 * only for records actually inserted, the sub-account × model × day, tag × day and sub-account × tag
 * × day rollups — in the same transaction, so records and rollups never disagree. Returns the
 * events that were new.
 *
 * Set-based: a chunk of events goes to PostgreSQL as one JSON document, inserted by one statement
 * that returns the request ids it inserted; the rollups of those are summed here per row and
 * upserted by one statement each (rows in key order, so two ingestors never lock two rollup rows
 * in opposite orders). A statement per event would make a delivery's time grow with its size.
 */
export async function writeUsage(
  prisma: PrismaClient,
  events: readonly UsageEvent[],
): Promise<UsageEvent[]> {
  const fresh: UsageEvent[] = [];
  for (let i = 0; i < events.length; i += WRITE_CHUNK) {
    const chunk = events.slice(i, i + WRITE_CHUNK).map(storable);
    fresh.push(
      ...(await prisma.$transaction((tx: Tx) => writeChunk(tx, chunk), {
        timeout: CHUNK_TIMEOUT_MS,
        maxWait: CHUNK_TIMEOUT_MS,
      })),
    );
  }
  return fresh;
}

async function writeChunk(tx: Tx, events: readonly UsageEvent[]): Promise<UsageEvent[]> {
  // One record per request id: a request id twice in a chunk is a replay of its first event.
  const byId = new Map<string, UsageEvent>();
  for (const e of events) if (!byId.has(e.requestId)) byId.set(e.requestId, e);
  // The events as they are: the statement reads the columns it names and ignores the rest (an
  // absent optional field reads as NULL). Times are UTC ISO strings: a timestamp (without time
  // zone) column ignores their trailing Z.
  const rows = [...byId.values()];
  // Each inserted record's UTC day as stored (`startedAt` rounded to milliseconds, as the column
  // holds it): its rollups' day, so the rollups sum exactly the records a day's range selects.
  const inserted: { requestId: string; day: string }[] = await tx.$queryRaw`
    INSERT INTO "UsageRecord" ("requestId", attempt, "workspaceId", "subAccountId", "keyId", tags, model,
      "requestedModel", "servedModel", provider, byok, "inputTokens", "outputTokens", "cachedInputTokens",
      "cacheWriteTokens", "providerCostMicros", "billedCostMicros", "cappedAtSettle", estimated, status,
      "errorClass", "httpStatus", "latencyMs", "ttftMs", retries, stream, "startedAt", "finishedAt")
    SELECT r."requestId", r.attempt, r."workspaceId", r."subAccountId", r."keyId",
      ARRAY(SELECT jsonb_array_elements_text(r.tags)), r.model, r."requestedModel", r."servedModel",
      r.provider, r.byok, r."inputTokens", r."outputTokens", r."cachedInputTokens", r."cacheWriteTokens",
      r."providerCostMicros", r."billedCostMicros", coalesce(r."cappedAtSettle", false), r.estimated, r.status,
      r."errorClass", r."httpStatus", r."latencyMs", r."ttftMs", r.retries, r.stream,
      r."startedAt"::timestamp(3), r."finishedAt"::timestamp(3)
    FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS r("requestId" text, attempt int,
      "workspaceId" text, "subAccountId" text, "keyId" text, tags jsonb, model text,
      "requestedModel" text, "servedModel" text, provider text, byok boolean, "inputTokens" int,
      "outputTokens" int, "cachedInputTokens" int, "cacheWriteTokens" int, "providerCostMicros" bigint,
      "billedCostMicros" bigint, "cappedAtSettle" boolean, estimated boolean, status text,
      "errorClass" text, "httpStatus" int, "latencyMs" int, "ttftMs" int, retries int, stream boolean,
      "startedAt" text, "finishedAt" text)
    ON CONFLICT ("requestId") DO NOTHING
    RETURNING "requestId", to_char("startedAt", 'YYYY-MM-DD') AS day`;
  if (inserted.length === 0) return [];
  const days = new Map(inserted.map((r) => [r.requestId, r.day]));
  const fresh = [...byId.values()].filter((e) => days.has(e.requestId));
  await addToRollups(tx, fresh, days);
  return fresh;
}

const SUMS = [
  'requests',
  'errors',
  'blocked',
  'downgraded',
  'inputTokens',
  'outputTokens',
  'cachedInputTokens',
  'cacheWriteTokens',
  'providerCostMicros',
  'billedCostMicros',
] as const;
type Row = Record<string, string | bigint>;

/** Adds one event to the sums of its rollup row (BigInt: a chunk's sums may pass 2^53). */
function add(rows: Map<string, Row>, key: string, base: Record<string, string>, e: UsageEvent) {
  let r = rows.get(key);
  if (r === undefined) {
    r = { ...base };
    for (const k of SUMS) r[k] = 0n;
    rows.set(key, r);
  }
  const one = {
    requests: 1,
    errors: e.status === 'error' ? 1 : 0,
    blocked: e.status === 'blocked' ? 1 : 0,
    // As the report counts it from the records: `requestedModel` set and not the model that served.
    downgraded: e.requestedModel != null && e.requestedModel !== e.model ? 1 : 0,
    inputTokens: e.inputTokens,
    outputTokens: e.outputTokens,
    cachedInputTokens: e.cachedInputTokens,
    cacheWriteTokens: e.cacheWriteTokens,
    providerCostMicros: e.providerCostMicros,
    billedCostMicros: e.billedCostMicros,
  };
  for (const k of SUMS) r[k] = (r[k] as bigint) + BigInt(one[k]);
}

/** The rows as one JSON document, in key order (so two ingestors upsert shared rows in the same
 * order and do not deadlock); sums as decimal strings, which PostgreSQL reads into bigint. */
function inKeyOrder(rows: Map<string, Row>): string {
  const sorted = [...rows.keys()].sort().map((k) => rows.get(k)!);
  return JSON.stringify(sorted, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

/** The sub-account × model × day, tag × day and sub-account × tag × day rollups of newly inserted
 * records (`days`: each one's UTC day as stored). */
async function addToRollups(
  tx: Tx,
  fresh: readonly UsageEvent[],
  days: ReadonlyMap<string, string>,
): Promise<void> {
  const accounts = new Map<string, Row>();
  const tags = new Map<string, Row>();
  const accountTags = new Map<string, Row>();
  for (const e of fresh) {
    const day = days.get(e.requestId)!;
    if (e.subAccountId) {
      const base = {
        workspaceId: e.workspaceId,
        subAccountId: e.subAccountId,
        model: e.model,
        day,
      };
      add(accounts, JSON.stringify([e.subAccountId, e.model, day]), base, e);
      // Once per tag as the record lists it (a tag listed twice counts twice, as the report's
      // unnest of the record's tags does).
      for (const tag of e.tags) {
        const tagBase = { workspaceId: e.workspaceId, subAccountId: e.subAccountId, tag, day };
        add(accountTags, JSON.stringify([e.subAccountId, tag, day]), tagBase, e);
      }
    }
    for (const tag of new Set(e.tags)) {
      add(
        tags,
        JSON.stringify([e.workspaceId, tag, day]),
        { workspaceId: e.workspaceId, tag, day },
        e,
      );
    }
  }
  await upsertRollups(tx, USAGE_ROLLUP, accounts);
  await upsertRollups(tx, TAG_ROLLUP, tags);
  await upsertRollups(tx, ACCOUNT_TAG_ROLLUP, accountTags);
}

/** A rollup table: its identity columns (text, but `day`), the columns its conflict is on, and the
 * sums its rows add up. Names are the schema's, never input. */
interface RollupTable {
  table: string;
  keys: readonly string[];
  conflict: readonly string[];
  sums: readonly (readonly [column: string, type: 'int' | 'bigint'])[];
}

const TOKENS_AND_COST = [
  ['inputTokens', 'bigint'],
  ['outputTokens', 'bigint'],
  ['cachedInputTokens', 'bigint'],
  ['cacheWriteTokens', 'bigint'],
  ['providerCostMicros', 'bigint'],
  ['billedCostMicros', 'bigint'],
] as const;

const USAGE_ROLLUP: RollupTable = {
  table: 'UsageRollupDaily',
  keys: ['workspaceId', 'subAccountId', 'model', 'day'],
  conflict: ['subAccountId', 'model', 'day'],
  sums: [
    ['requests', 'int'],
    ['errors', 'int'],
    ['blocked', 'int'],
    ['downgraded', 'int'],
    ...TOKENS_AND_COST,
  ],
};
const TAG_ROLLUP: RollupTable = {
  table: 'TagRollupDaily',
  keys: ['workspaceId', 'tag', 'day'],
  conflict: ['workspaceId', 'tag', 'day'],
  sums: [['requests', 'int'], ...TOKENS_AND_COST],
};
const ACCOUNT_TAG_ROLLUP: RollupTable = {
  table: 'SubAccountTagRollupDaily',
  keys: ['workspaceId', 'subAccountId', 'tag', 'day'],
  conflict: ['subAccountId', 'tag', 'day'],
  sums: [['requests', 'int'], ...TOKENS_AND_COST],
};

/** Adds `rows` to their rollup rows in one statement: inserted where new, summed where present. */
async function upsertRollups(tx: Tx, t: RollupTable, rows: Map<string, Row>): Promise<void> {
  if (rows.size === 0) return;
  const name = (column: string) => Prisma.raw(`"${column}"`);
  const columns = [...t.keys, ...t.sums.map(([c]) => c)];
  const types = [
    ...t.keys.map((c) => `"${c}" ${c === 'day' ? 'date' : 'text'}`),
    ...t.sums.map(([c, type]) => `"${c}" ${type}`),
  ];
  await tx.$executeRaw`
    INSERT INTO ${name(t.table)} (${Prisma.join(columns.map(name))})
    SELECT ${Prisma.join(columns.map((c) => Prisma.raw(`r."${c}"`)))}
    FROM jsonb_to_recordset(${inKeyOrder(rows)}::jsonb) AS r(${Prisma.raw(types.join(', '))})
    ON CONFLICT (${Prisma.join(t.conflict.map(name))}) DO UPDATE SET ${Prisma.join(
      t.sums.map(([c]) => Prisma.raw(`"${c}" = "${t.table}"."${c}" + EXCLUDED."${c}"`)),
    )}`;
}

/** NUL, and a UTF-16 surrogate without its pair (a client's `"\ud800"` in a JSON body): neither
 * has a UTF-8 form PostgreSQL text or jsonb will take. */
const UNSTORABLE_SOURCE =
  '\\u0000|[\\uD800-\\uDBFF](?![\\uDC00-\\uDFFF])|(?<![\\uD800-\\uDBFF])[\\uDC00-\\uDFFF]';
const UNSTORABLE = new RegExp(UNSTORABLE_SOURCE);
const UNSTORABLE_ALL = new RegExp(UNSTORABLE_SOURCE, 'g');

/** The largest value of the records' integer columns (PostgreSQL `integer`). */
const INT4_MAX = 2_147_483_647;
const INT_FIELDS = [
  'attempt',
  'inputTokens',
  'outputTokens',
  'cachedInputTokens',
  'cacheWriteTokens',
  'latencyMs',
  'ttftMs',
  'retries',
] as const;

/**
 * What the books can store, whatever a data plane sent. One unstorable event would fail its whole
 * delivery on every redelivery and stall ingestion for everyone, so:
 * - PostgreSQL text (and jsonb) cannot hold NUL (a data plane of an older version let a client's
 *   through) nor a lone UTF-16 surrogate: each replaced by U+FFFD, the rest kept;
 * - counts above the records' `integer` columns (an upstream reporting billions of tokens: the event
 *   schema takes any safe integer) are stored as that maximum — in the record and its rollups alike;
 *   the cost, in `bigint`, is kept as billed.
 */
export function storable(e: UsageEvent): UsageEvent {
  const clean = (v: string) => (UNSTORABLE.test(v) ? v.replace(UNSTORABLE_ALL, '\uFFFD') : v);
  const cleanOrNull = (v: string | null | undefined) => (v == null ? v : clean(v));
  const texts = [e.model, e.requestedModel, e.servedModel, e.provider, e.errorClass, ...e.tags];
  const badText = texts.some((t) => typeof t === 'string' && UNSTORABLE.test(t));
  const tooLarge = INT_FIELDS.some((k) => (e[k] ?? 0) > INT4_MAX);
  if (!badText && !tooLarge) return e;
  const out: UsageEvent = !badText
    ? { ...e }
    : {
        ...e,
        model: clean(e.model),
        requestedModel: cleanOrNull(e.requestedModel),
        servedModel: cleanOrNull(e.servedModel) ?? null,
        provider: cleanOrNull(e.provider) ?? null,
        errorClass: cleanOrNull(e.errorClass) ?? null,
        tags: e.tags.map(clean),
      };
  for (const k of INT_FIELDS) {
    const v = out[k];
    if (v !== null && v > INT4_MAX) out[k] = INT4_MAX;
  }
  return out;
}
