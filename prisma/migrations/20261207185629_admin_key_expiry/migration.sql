-- AlterTable
ALTER TABLE "AdminKey" ADD COLUMN     "expiresAt" TIMESTAMP(3);
