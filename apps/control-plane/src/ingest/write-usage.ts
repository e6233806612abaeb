import type { PrismaClient, Tx } from '@tollgate/db';
import type { UsageEvent } from '@tollgate/usage';

/**
 * Writes usage events to the books: one record per request id (a replayed event is a no-op) and,
 * only for records actually inserted, the sub-account × model × day and tag × day rollups — in the
 * same transaction, so records and rollups never disagree. Returns the events that were new.
 */
export async function writeUsage(
  prisma: PrismaClient,
  events: readonly UsageEvent[],
): Promise<UsageEvent[]> {
  if (events.length === 0) return [];
  return prisma.$transaction(async (tx: Tx) => {
    const fresh: UsageEvent[] = [];
    for (const e of events.map(storable)) {
      const inserted = await tx.$executeRaw`
        INSERT INTO "UsageRecord" ("requestId", attempt, "workspaceId", "subAccountId", "keyId", tags, model,
          "requestedModel", "servedModel", provider, byok, "inputTokens", "outputTokens", "cachedInputTokens", "cacheWriteTokens",
          "providerCostMicros", "billedCostMicros", "cappedAtSettle", estimated, status, "errorClass", "httpStatus",
          "latencyMs", "ttftMs", retries, stream, "startedAt", "finishedAt")
        VALUES (${e.requestId}, ${e.attempt}, ${e.workspaceId}, ${e.subAccountId}, ${e.keyId}, ${e.tags}::text[],
          ${e.model}, ${e.requestedModel ?? null}, ${e.servedModel}, ${e.provider}, ${e.byok}, ${e.inputTokens}, ${e.outputTokens},
          ${e.cachedInputTokens}, ${e.cacheWriteTokens}, ${BigInt(e.providerCostMicros)}, ${BigInt(e.billedCostMicros)},
          ${e.cappedAtSettle === true}, ${e.estimated}, ${e.status}, ${e.errorClass}, ${e.httpStatus}, ${e.latencyMs}, ${e.ttftMs}, ${e.retries},
          ${e.stream}, ${new Date(e.startedAt)}, ${new Date(e.finishedAt)})
        ON CONFLICT ("requestId") DO NOTHING`;
      if (inserted === 0) continue;
      fresh.push(e);
      const day = e.startedAt.slice(0, 10);
      if (e.subAccountId) {
        await tx.$executeRaw`
          INSERT INTO "UsageRollupDaily" ("workspaceId", "subAccountId", model, day, requests, errors, blocked,
            "inputTokens", "outputTokens", "cachedInputTokens", "providerCostMicros", "billedCostMicros")
          VALUES (${e.workspaceId}, ${e.subAccountId}, ${e.model}, ${day}::date, 1,
            ${e.status === 'error' ? 1 : 0}, ${e.status === 'blocked' ? 1 : 0}, ${e.inputTokens}, ${e.outputTokens},
            ${e.cachedInputTokens}, ${BigInt(e.providerCostMicros)}, ${BigInt(e.billedCostMicros)})
          ON CONFLICT ("subAccountId", model, day) DO UPDATE SET
            requests = "UsageRollupDaily".requests + 1,
            errors = "UsageRollupDaily".errors + EXCLUDED.errors,
            blocked = "UsageRollupDaily".blocked + EXCLUDED.blocked,
            "inputTokens" = "UsageRollupDaily"."inputTokens" + EXCLUDED."inputTokens",
            "outputTokens" = "UsageRollupDaily"."outputTokens" + EXCLUDED."outputTokens",
            "cachedInputTokens" = "UsageRollupDaily"."cachedInputTokens" + EXCLUDED."cachedInputTokens",
            "providerCostMicros" = "UsageRollupDaily"."providerCostMicros" + EXCLUDED."providerCostMicros",
            "billedCostMicros" = "UsageRollupDaily"."billedCostMicros" + EXCLUDED."billedCostMicros"`;
      }
      for (const tag of e.tags) {
        await tx.$executeRaw`
          INSERT INTO "TagRollupDaily" ("workspaceId", tag, day, requests, "inputTokens", "outputTokens",
            "cachedInputTokens", "cacheWriteTokens", "providerCostMicros", "billedCostMicros")
          VALUES (${e.workspaceId}, ${tag}, ${day}::date, 1, ${e.inputTokens}, ${e.outputTokens},
            ${e.cachedInputTokens}, ${e.cacheWriteTokens}, ${BigInt(e.providerCostMicros)}, ${BigInt(e.billedCostMicros)})
          ON CONFLICT ("workspaceId", tag, day) DO UPDATE SET
            requests = "TagRollupDaily".requests + EXCLUDED.requests,
            "inputTokens" = "TagRollupDaily"."inputTokens" + EXCLUDED."inputTokens",
            "outputTokens" = "TagRollupDaily"."outputTokens" + EXCLUDED."outputTokens",
            "cachedInputTokens" = "TagRollupDaily"."cachedInputTokens" + EXCLUDED."cachedInputTokens",
            "cacheWriteTokens" = "TagRollupDaily"."cacheWriteTokens" + EXCLUDED."cacheWriteTokens",
            "providerCostMicros" = "TagRollupDaily"."providerCostMicros" + EXCLUDED."providerCostMicros",
            "billedCostMicros" = "TagRollupDaily"."billedCostMicros" + EXCLUDED."billedCostMicros"`;
      }
    }
    return fresh;
  });
}

/** PostgreSQL text (and jsonb) cannot hold NUL: one such character (a data plane of an older
 * version let a client's through) would fail the whole batch on every redelivery and stall
 * ingestion for everyone. Replaced by U+FFFD, the rest kept. */
export function storable(e: UsageEvent): UsageEvent {
  const clean = (v: string) => (v.includes('\u0000') ? v.replaceAll('\u0000', '\uFFFD') : v);
  const cleanOrNull = (v: string | null | undefined) => (v == null ? v : clean(v));
  const texts = [e.model, e.requestedModel, e.servedModel, e.provider, e.errorClass, ...e.tags];
  if (!texts.some((t) => typeof t === 'string' && t.includes('\u0000'))) return e;
  return {
    ...e,
    model: clean(e.model),
    requestedModel: cleanOrNull(e.requestedModel),
    servedModel: cleanOrNull(e.servedModel) ?? null,
    provider: cleanOrNull(e.provider) ?? null,
    errorClass: cleanOrNull(e.errorClass) ?? null,
    tags: e.tags.map(clean),
  };
}
