import type { PrismaClient } from '@tollgate/db';
import { unseal } from '../lib/seal.ts';

/**
 * Refuses a TOLLGATE_SECRET_KEY that is not the one the database's secrets were sealed with (a
 * typo, a key from another environment): started with it, the control plane would say it is ready
 * while every webhook delivery and every data plane given the same key failed to open them. Checked
 * on one sealed value (all are sealed with the same key); a database with none says nothing.
 */
export async function checkSecretKey(prisma: PrismaClient, secretKey: Buffer): Promise<void> {
  const credential = await prisma.providerCredential.findFirst({ select: { sealedKey: true } });
  const sealed =
    credential?.sealedKey ??
    (await prisma.webhookEndpoint.findFirst({ select: { sealedSecret: true } }))?.sealedSecret;
  if (sealed === undefined) return;
  try {
    unseal(secretKey, sealed);
  } catch {
    throw new Error(
      'TOLLGATE_SECRET_KEY: not the key the provider keys and webhook secrets in this database were sealed with',
    );
  }
}
