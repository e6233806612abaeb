import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Base62 text of `bytes` random bytes (uniform: rejection sampling on each byte). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      // 248 = 4 * 62: bytes above it would bias the first symbols.
      if (b < 248) out += BASE62[b % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/** Object ids: `<prefix>_<20 base62>` (~119 bits), unguessable so ids never leak counts. */
export function newId(prefix: string): string {
  return `${prefix}_${randomBase62(20)}`;
}

/** 43 base62 characters carry ≥ 256 bits: at least 32 random bytes, as SPEC §3 asks. */
const KEY_BODY_LENGTH = 43;

export interface MintedKey {
  plaintext: string;
  hash: string;
  prefix: string;
}

/** Mints a key `sk-tg-…` (sub-account) or `sk-tg-admin-…` (admin). Only hash and prefix are stored. */
export function mintKey(kind: 'admin' | 'sub_account'): MintedKey {
  const head = kind === 'admin' ? 'sk-tg-admin-' : 'sk-tg-';
  const plaintext = head + randomBase62(KEY_BODY_LENGTH);
  return { plaintext, hash: hashKey(plaintext), prefix: plaintext.slice(0, head.length + 4) };
}

export function hashKey(plaintext: string): string {
  return createHash('sha256').update(plaintext).digest('hex');
}

/** Constant-time comparison of two secrets of any length. */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}
