-- AlterTable
ALTER TABLE "PolicyState" ADD COLUMN     "history" TEXT NOT NULL DEFAULT (gen_random_uuid())::text;
