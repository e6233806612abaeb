/**
 * Run by gc-retention.spec.ts as `node --expose-gc --import tsx` (its own heap, nothing else in
 * it): a data plane on the in-process bus in front of the fake upstream, `N` requests one after
 * the other over one keep-alive connection (like the benchmark's c1), then two young-generation
 * GCs and a full one; the least of ROUNDS such rounds per path is reported. Garbage that only the
 * full GC frees — heap used after the minor GCs minus heap used after the full GC — is what a
 * young-generation GC could not free: a request graph kept alive by old-generation garbage (a dead
 * pretenured closure, a weak table) shows up here as tens of KB per request; a clean path leaves
 * well under 2 KB per request.
 *
 * Prints one JSON line: { stream: bytesPerRequest, json: bytesPerRequest, requests }.
 */
import { Agent, request } from 'node:http';
import { getHeapStatistics } from 'node:v8';
import { CHEAP, startHarness, subAccount } from './harness.ts';

const gc = (globalThis as { gc?: (o?: { type: 'minor' | 'major' }) => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');
const N = Number(process.env.GC_REQUESTS ?? 300);
const WARMUP = 100;

const h = await startHarness({
  // Capped, so every request reserves and settles (the full path).
  subs: [subAccount('s1', { spendCapMicros: 1_000_000_000_000 })],
  upstream: { outputTokens: 20 },
});
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const url = new URL(`${h.urls[0]}/v1/chat/completions`);

function call(stream: boolean): Promise<void> {
  const body = JSON.stringify({
    model: CHEAP,
    stream,
    ...(stream ? { stream_options: { include_usage: true } } : {}),
    max_tokens: 64,
    messages: [{ role: 'user', content: 'Summarize the benefits of a gateway in two sentences.' }],
  });
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          authorization: `Bearer ${h.keys.s1}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
        res.resume();
        res.on('end', () => resolve());
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Lets settlements and the usage flush run (timers, then I/O), without a fixed sleep. */
async function quiesce() {
  for (const p of h.planes) await p.flushUsage();
  await new Promise((r) => setImmediate(r));
}

/** Rounds measured per path; the least is reported. A leak shows in every round; the heap also
 * sheds unrelated old-generation garbage now and then at a full GC (flushed bytecode, code of
 * startup paths), which can land in one round and would read as several KB per request. */
const ROUNDS = 3;

async function retainedPerRequest(stream: boolean): Promise<number> {
  for (let i = 0; i < WARMUP; i++) await call(stream);
  let least = Number.POSITIVE_INFINITY;
  for (let round = 0; round < ROUNDS; round++) {
    await quiesce();
    gc?.();
    for (let i = 0; i < N; i++) await call(stream);
    await quiesce();
    gc?.({ type: 'minor' });
    gc?.({ type: 'minor' });
    const afterMinor = getHeapStatistics().used_heap_size;
    gc?.();
    const afterFull = getHeapStatistics().used_heap_size;
    least = Math.min(least, Math.round((afterMinor - afterFull) / N));
  }
  return least;
}

try {
  // Non-streaming first: a stream path that leaks makes V8 pretenure allocation sites shared by
  // both paths, and the non-streaming numbers measured after it would carry that over.
  const jsonBytes = await retainedPerRequest(false);
  const streamBytes = await retainedPerRequest(true);
  console.log(JSON.stringify({ stream: streamBytes, json: jsonBytes, requests: N }));
} finally {
  agent.destroy();
  await h.close();
}
