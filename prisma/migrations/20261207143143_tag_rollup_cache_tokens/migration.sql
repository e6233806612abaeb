-- AlterTable
ALTER TABLE "TagRollupDaily" ADD COLUMN     "cacheWriteTokens" BIGINT NOT NULL DEFAULT 0,
ADD COLUMN     "cachedInputTokens" BIGINT NOT NULL DEFAULT 0;

-- Backfill: the days already rolled up, from the usage records still kept (raw records older than
-- the retention setting are gone: their days keep 0 here, as before).
UPDATE "TagRollupDaily" AS r
SET "cachedInputTokens" = s.cached, "cacheWriteTokens" = s.written
FROM (
  SELECT u."workspaceId", t.tag, u."startedAt"::date AS day,
    sum(u."cachedInputTokens")::bigint AS cached, sum(u."cacheWriteTokens")::bigint AS written
  FROM "UsageRecord" AS u, unnest(u.tags) AS t(tag)
  GROUP BY 1, 2, 3
) AS s
WHERE r."workspaceId" = s."workspaceId" AND r.tag = s.tag AND r.day = s.day;
