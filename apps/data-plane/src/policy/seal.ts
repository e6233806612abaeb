import { createDecipheriv } from 'node:crypto';
import type { CompiledPolicy } from '@tollgate/policy';

/**
 * Opens a provider key sealed by the control plane (apps/control-plane/src/lib/seal.ts): AES-256-GCM,
 * `v1.<iv>.<tag>.<ciphertext>` in base64url. Replicated rather than imported: the data plane must
 * not depend on the control-plane app. A wrong key or a tampered value throws.
 */
export function openSealed(secretKey: Buffer, sealed: string): string {
  const [v, iv, tag, ct] = sealed.split('.');
  if (v !== 'v1' || !iv || !tag || ct === undefined) {
    throw new Error('sealed value has an unknown format');
  }
  const decipher = createDecipheriv('aes-256-gcm', secretKey, Buffer.from(iv, 'base64url'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  const plain = Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]);
  return plain.toString('utf8');
}

/** One provider key of the policy (a workspace's or a sub-account's), if it holds any. */
function anySealedKey(policy: CompiledPolicy): string | undefined {
  for (const routes of policy.providerRoutes.values()) {
    for (const route of routes.values()) return route.sealedApiKey;
  }
  for (const routes of policy.subAccountRoutes.values()) {
    for (const route of routes.values()) return route.sealedApiKey;
  }
  return undefined;
}

/**
 * Refuses a TOLLGATE_SECRET_KEY that is not the control plane's: with it every provider key of the
 * policy fails to open, and every request needing one would answer 502. Checked on one key (all
 * are sealed with the same); a policy with none says nothing either way.
 */
export function checkSecretKey(policy: CompiledPolicy | null, secretKey: Buffer | undefined) {
  const sealed = policy === null ? undefined : anySealedKey(policy);
  if (sealed === undefined) return;
  try {
    if (secretKey === undefined) throw new Error('no key');
    openSealed(secretKey, sealed);
  } catch {
    throw new Error(
      `TOLLGATE_SECRET_KEY: ${secretKey === undefined ? 'not set' : 'not the key'} the control plane sealed the provider keys of the policy with (set its TOLLGATE_SECRET_KEY)`,
    );
  }
}

/** Opened keys by sealed value: opening costs a cipher set-up per request otherwise. */
export function createKeyOpener(secretKey: Buffer | undefined) {
  const cache = new Map<string, string>();
  return (sealed: string): string => {
    const hit = cache.get(sealed);
    if (hit !== undefined) return hit;
    if (secretKey === undefined) throw new Error('TOLLGATE_SECRET_KEY is not configured');
    const plain = openSealed(secretKey, sealed);
    if (cache.size > 10_000) cache.clear();
    cache.set(sealed, plain);
    return plain;
  };
}
