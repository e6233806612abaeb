-- AlterTable
ALTER TABLE "AdminKey" ADD COLUMN     "name" TEXT;
