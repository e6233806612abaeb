import { createHmac } from 'node:crypto';

/**
 * Standard Webhooks signing: `webhook-signature: v1,<base64 HMAC-SHA256>` over
 * `<webhook-id>.<webhook-timestamp>.<body>`, keyed with the bytes of the secret's base64 part
 * (after `whsec_`). Several secrets (the current one first, then one still in its rotation
 * overlap) give several space-separated signatures; a receiver accepts any one that matches.
 */
export function signWebhook(
  secret: string | readonly string[],
  id: string,
  timestampSec: number,
  body: string,
) {
  const secrets = typeof secret === 'string' ? [secret] : secret;
  const signatures = secrets.map((s) => {
    const key = Buffer.from(s.startsWith('whsec_') ? s.slice(6) : s, 'base64');
    return `v1,${createHmac('sha256', key).update(`${id}.${timestampSec}.${body}`).digest('base64')}`;
  });
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSec),
    'webhook-signature': signatures.join(' '),
  };
}
