/**
 * Micro-benchmark of the admit + settle Lua scripts alone (no HTTP): bench-shaped requests (RPM, TPM,
 * concurrency, a capped sub-account counter + an uncapped workspace counter), `INFO commandstats`
 * EVALSHA µs per call before/after. Compares the scripts in packages/redis with a copy in
 * bench/results/micro-old (if present: the scripts before this change, copied from git, gitignored).
 * NOSTATS=1: no INFO calls around each script (wall time per admit + settle without them).
 *   node --import tsx bench/lua-micro.ts [iterations] [inFlight]
 */
import { createRequire } from 'node:module';
import { createKeys } from '../packages/redis/src/keys.ts';
import * as cur from '../packages/redis/src/scripts.ts';

const req = createRequire(new URL('../apps/data-plane/package.json', import.meta.url));
const { Redis } = req('ioredis') as typeof import('ioredis');
const URL_ = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const N = Number(process.argv[2] ?? 3000);
const K = Number(process.argv[3] ?? 1);

async function stats(c: InstanceType<typeof Redis>) {
  const s = (await c.info('commandstats')) as string;
  const m = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(s);
  let inner = 0;
  for (const x of s.matchAll(/cmdstat_(\w+):calls=(\d+)/g)) {
    if (!['evalsha', 'eval', 'info', 'scan', 'del', 'ping'].includes(x[1]!)) inner += Number(x[2]);
  }
  return m ? { calls: Number(m[1]), usec: Number(m[2]), inner } : { calls: 0, usec: 0, inner };
}
let phase = { admit: [0, 0], settle: [0, 0] };
async function timed<T>(
  c: InstanceType<typeof Redis>,
  which: 'admit' | 'settle',
  f: () => Promise<T>,
) {
  if (K !== 1 || process.env.NOSTATS === '1') return f();
  const b = await stats(c);
  const r = await f();
  const a = await stats(c);
  phase[which][0] += a.calls - b.calls - 0;
  phase[which][1] += a.usec - b.usec;
  return r;
}

async function run(name: string, mod: typeof cur) {
  const client = new Redis(URL_, { enableAutoPipelining: process.env.AP === '1' });
  const prefix = `tgmicro-${process.pid}-${name}`;
  const keys = createKeys(prefix);
  const ws = 'ws_m';
  const sa = 'sa_m';
  const counters = [keys.counter(ws, `sa:${sa}`, 'm2026-11'), keys.counter(ws, 'ws', 'm2026-11')];
  // WS_RESERVED=0: admit reserves on the capped sub-account counter only — the data plane skips an
  // uncapped workspace counter (enforce/admission.ts reservedCounters); the settle still has both.
  const admitCounters = process.env.WS_RESERVED === '0' ? counters.slice(0, 1) : counters;
  let i = 0;
  const one = async () => {
    const id = `req_${name}_${i++}`;
    const now = Date.now();
    const minuteIndex = Math.floor(now / 60000);
    await timed(client, 'admit', () =>
      mod.admitScript(client, {
        keys: {
          concurrency: keys.concurrency(ws, sa),
          rpmWindow: keys.rpmWindow(ws, sa, minuteIndex),
          rpdWindow: keys.rpdWindow(ws, sa, Math.floor(now / 86400000)),
          tpmWindow: keys.tpmWindow(ws, sa, minuteIndex),
          requestTokens: keys.requestTokens(ws, id),
          counters: admitCounters,
          epoch: keys.countersEpoch(ws),
        },
        requestId: id,
        nowMs: now,
        reservationTtlMs: 600000,
        rpm: 100000000,
        rpd: null,
        tpm: 1000000000,
        maxConcurrent: 10000,
        estimatedTokens: 100,
        worstCaseMicros: 5000,
        minMicros: 100,
        minuteIndex,
        minuteEndMs: (minuteIndex + 1) * 60000,
        dayEndMs: (Math.floor(now / 86400000) + 1) * 86400000,
        counters: [
          { capMicros: 1_000_000_000_000, keyTtlMs: 40 * 86400000 },
          { capMicros: null, keyTtlMs: 40 * 86400000 },
        ].slice(0, admitCounters.length),
        purgeLimit: 256,
      }),
    );
    await timed(client, 'settle', () =>
      mod.settleScript(client, {
        keys: {
          settled: keys.settled(ws, id),
          concurrency: keys.concurrency(ws, sa),
          requestTokens: keys.requestTokens(ws, id),
          tpmWindow: keys.tpmWindow(ws, sa, minuteIndex),
          counters,
          epoch: keys.countersEpoch(ws),
        },
        requestId: id,
        actualMicros: 1234,
        actualTokens: 90,
        minuteIndex,
        settledTtlMs: 30000,
        counterKeyTtlMs: [40 * 86400000, 40 * 86400000],
        capMicros: [1_000_000_000, null],
        purgeLimit: 256,
        nowMs: now,
      } as never),
    );
  };
  for (let w = 0; w < 200; w++) await one();
  phase = { admit: [0, 0], settle: [0, 0] };
  const before = await stats(client);
  const t0 = performance.now();
  const workers = Array.from({ length: K }, async () => {
    while (i < N + 200) await one();
  });
  await Promise.all(workers);
  const ms = performance.now() - t0;
  const after = await stats(client);
  const calls = after.calls - before.calls;
  console.log(
    `${name.padEnd(4)} inFlight=${K} evalsha µs/call=${((after.usec - before.usec) / calls).toFixed(1)} ` +
      `wall µs/(admit+settle)=${((ms * 1000) / N).toFixed(0)} calls=${calls} ` +
      `redis commands/(admit+settle)=${((after.inner - before.inner) / N).toFixed(1)}` +
      (K === 1
        ? ` admit µs=${(phase.admit[1] / N).toFixed(1)} settle µs=${(phase.settle[1] / N).toFixed(1)}`
        : ''),
  );
  let cursor = '0';
  do {
    const [next, ks] = await client.scan(cursor, 'MATCH', `{tg:${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (ks.length) await client.del(...ks);
  } while (cursor !== '0');
  await client.quit();
}

let old: typeof cur | null = null;
try {
  old = (await import('./results/micro-old/scripts.ts')) as typeof cur;
} catch {}
for (let r = 0; r < Number(process.env.ROUNDS ?? 3); r++) {
  if (old) await run('old', old);
  await run('new', cur);
}
