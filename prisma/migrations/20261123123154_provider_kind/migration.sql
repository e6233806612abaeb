-- AlterTable
ALTER TABLE "ProviderCredential" ADD COLUMN     "apiVersion" TEXT,
ADD COLUMN     "kind" TEXT NOT NULL DEFAULT 'openai';
