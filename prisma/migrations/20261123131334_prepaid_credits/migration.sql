-- AlterTable
ALTER TABLE "SubAccount" ADD COLUMN     "lowBalanceThresholdMicros" BIGINT,
ADD COLUMN     "prepaid" BOOLEAN NOT NULL DEFAULT false;

-- CreateTable
CREATE TABLE "Credit" (
    "id" TEXT NOT NULL,
    "workspaceId" TEXT NOT NULL,
    "subAccountId" TEXT NOT NULL,
    "amountMicros" BIGINT NOT NULL,
    "reference" TEXT NOT NULL,
    "actor" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Credit_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Credit_subAccountId_createdAt_id_idx" ON "Credit"("subAccountId", "createdAt", "id");

-- CreateIndex
CREATE UNIQUE INDEX "Credit_subAccountId_reference_key" ON "Credit"("subAccountId", "reference");

-- AddForeignKey
ALTER TABLE "Credit" ADD CONSTRAINT "Credit_subAccountId_fkey" FOREIGN KEY ("subAccountId") REFERENCES "SubAccount"("id") ON DELETE CASCADE ON UPDATE CASCADE;
