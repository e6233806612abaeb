-- AlterTable
ALTER TABLE "WebhookEndpoint" ADD COLUMN     "consecutiveFailures" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "failingSince" TIMESTAMP(3),
ADD COLUMN     "previousSealedSecret" TEXT,
ADD COLUMN     "previousSecretExpiresAt" TIMESTAMP(3);
