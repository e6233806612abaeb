import { periodKey } from '@tollgate/policy';
import { CHEAP, type Harness } from './harness.ts';

export interface BurstResult {
  ok: number;
  refused: number;
  upstreamHits: number;
  refusals: { error: Record<string, unknown> }[];
  periodKey: string;
}

/** Fires `requests` chat completions at once (round-robin over the planes) and counts outcomes. */
export async function runCapBurst(
  h: Harness,
  o: { sub: string; requests: number; tag?: string },
): Promise<BurstResult> {
  const before = h.upstream.hits();
  const results = await Promise.all(
    Array.from({ length: o.requests }, async (_, i) => {
      const url = h.urls[i % h.urls.length]!;
      const headers: Record<string, string> = {
        authorization: `Bearer ${h.keys[o.sub]}`,
        'content-type': 'application/json',
      };
      if (o.tag) headers['x-tollgate-tag'] = o.tag;
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          model: CHEAP,
          messages: [{ role: 'user', content: 'x' }],
          max_tokens: 100,
        }),
      });
      return { status: res.status, body: (await res.json()) as { error: Record<string, unknown> } };
    }),
  );
  const other = results.filter((r) => r.status !== 200 && r.status !== 402);
  if (other.length > 0) throw new Error(`unexpected answers: ${JSON.stringify(other[0])}`);
  return {
    ok: results.filter((r) => r.status === 200).length,
    refused: results.filter((r) => r.status === 402).length,
    upstreamHits: h.upstream.hits() - before,
    refusals: results.filter((r) => r.status === 402).map((r) => r.body),
    periodKey: periodKey('monthly', Date.now()),
  };
}
