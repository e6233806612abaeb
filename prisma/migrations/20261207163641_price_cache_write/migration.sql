-- AlterTable
ALTER TABLE "ModelPrice" ADD COLUMN     "cacheWritePerMTokMicros" BIGINT;
