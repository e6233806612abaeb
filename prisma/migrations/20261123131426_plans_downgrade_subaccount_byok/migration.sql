-- DropIndex
DROP INDEX "ProviderCredential_workspaceId_provider_key";

-- AlterTable
ALTER TABLE "ProviderCredential" ADD COLUMN     "subAccountId" TEXT NOT NULL DEFAULT '';

-- AlterTable
ALTER TABLE "SubAccount" ADD COLUMN     "fallbackModel" TEXT,
ADD COLUMN     "overrides" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "planId" TEXT;

-- AlterTable
ALTER TABLE "UsageRecord" ADD COLUMN     "requestedModel" TEXT;

-- CreateTable
CREATE TABLE "Plan" (
    "id" TEXT NOT NULL,
    "workspaceId" TEXT NOT NULL,
    "slug" TEXT NOT NULL,
    "spendCapMicros" BIGINT,
    "budgetPeriod" "BudgetPeriod" NOT NULL DEFAULT 'monthly',
    "rateLimitRpm" INTEGER,
    "rateLimitRpd" INTEGER,
    "rateLimitTpm" INTEGER,
    "maxConcurrent" INTEGER,
    "allowedModels" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "defaultTag" TEXT,
    "markupBp" INTEGER,
    "fallbackModel" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Plan_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Plan_workspaceId_slug_key" ON "Plan"("workspaceId", "slug");

-- CreateIndex
CREATE UNIQUE INDEX "ProviderCredential_workspaceId_provider_subAccountId_key" ON "ProviderCredential"("workspaceId", "provider", "subAccountId");

-- CreateIndex
CREATE INDEX "SubAccount_planId_idx" ON "SubAccount"("planId");

-- AddForeignKey
ALTER TABLE "SubAccount" ADD CONSTRAINT "SubAccount_planId_fkey" FOREIGN KEY ("planId") REFERENCES "Plan"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Plan" ADD CONSTRAINT "Plan_workspaceId_fkey" FOREIGN KEY ("workspaceId") REFERENCES "Workspace"("id") ON DELETE CASCADE ON UPDATE CASCADE;
