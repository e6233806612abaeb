-- AlterTable
ALTER TABLE "UsageRollupDaily" ADD COLUMN     "cacheWriteTokens" BIGINT NOT NULL DEFAULT 0,
ADD COLUMN     "downgraded" INTEGER NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "SubAccountTagRollupDaily" (
    "workspaceId" TEXT NOT NULL,
    "subAccountId" TEXT NOT NULL,
    "tag" TEXT NOT NULL,
    "day" DATE NOT NULL,
    "requests" INTEGER NOT NULL DEFAULT 0,
    "inputTokens" BIGINT NOT NULL DEFAULT 0,
    "outputTokens" BIGINT NOT NULL DEFAULT 0,
    "cachedInputTokens" BIGINT NOT NULL DEFAULT 0,
    "cacheWriteTokens" BIGINT NOT NULL DEFAULT 0,
    "providerCostMicros" BIGINT NOT NULL DEFAULT 0,
    "billedCostMicros" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "SubAccountTagRollupDaily_pkey" PRIMARY KEY ("subAccountId","tag","day")
);

-- Backfill: the days already rolled up, from the usage records still kept, so the sub-account
-- report (whole days from these rollups) answers as it did from the records. Days whose records
-- are gone keep 0 / no row here. The days are the records' UTC days, as the ingest counts them.
UPDATE "UsageRollupDaily" AS r
SET "cacheWriteTokens" = s.written, downgraded = s.downgraded
FROM (
  SELECT u."subAccountId", u.model, u."startedAt"::date AS day,
    sum(u."cacheWriteTokens")::bigint AS written,
    (count(*) FILTER (WHERE u."requestedModel" IS NOT NULL AND u."requestedModel" <> u.model))::int AS downgraded
  FROM "UsageRecord" AS u
  WHERE u."subAccountId" IS NOT NULL
  GROUP BY 1, 2, 3
) AS s
WHERE r."subAccountId" = s."subAccountId" AND r.model = s.model AND r.day = s.day;

INSERT INTO "SubAccountTagRollupDaily" ("workspaceId", "subAccountId", tag, day, requests,
  "inputTokens", "outputTokens", "cachedInputTokens", "cacheWriteTokens", "providerCostMicros",
  "billedCostMicros")
SELECT min(u."workspaceId"), u."subAccountId", t.tag, u."startedAt"::date, count(*)::int,
  sum(u."inputTokens")::bigint, sum(u."outputTokens")::bigint, sum(u."cachedInputTokens")::bigint,
  sum(u."cacheWriteTokens")::bigint, sum(u."providerCostMicros")::bigint,
  sum(u."billedCostMicros")::bigint
FROM "UsageRecord" AS u, unnest(u.tags) AS t(tag)
WHERE u."subAccountId" IS NOT NULL
GROUP BY u."subAccountId", t.tag, u."startedAt"::date;
