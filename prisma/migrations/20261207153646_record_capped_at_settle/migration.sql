-- AlterTable
ALTER TABLE "UsageRecord" ADD COLUMN     "cappedAtSettle" BOOLEAN NOT NULL DEFAULT false;
