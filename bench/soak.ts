/**
 * Bounded soak (issue 7): 1 control plane + 2 data planes as real `tollgate` processes on the local
 * PostgreSQL (a fresh database) and Redis (a unique prefix), the fast mock upstream, and a steady
 * open-loop rate of non-streaming chat completions for `--duration` seconds (default 600).
 *
 * Every 10 s (`--sample`): RSS of each process, p50/p99 latency of the window, requests answered,
 * usage records in PostgreSQL, ingestion lag (answered − recorded) and the usage stream's pending
 * entries. At the end: time until every answered request is recorded, and the drift between the Redis
 * spend counters (sub-account and workspace) and the PostgreSQL records. Writes bench/SOAK.md
 * (`--out`) and prints the same table.
 *
 *   bash bench/soak.sh                       # 10 minutes at 40 req/s
 *   bash bench/soak.sh --duration 60 --rate 40
 *
 * Everything it starts is stopped by pid on exit; its database is dropped and its Redis keys deleted.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openDatabase } from '../packages/db/src/index.ts';
import { periodKey } from '../packages/policy/src/index.ts';
import { createKeys } from '../packages/redis/src/index.ts';
import { createPgDatabase } from '../packages/testkit/src/index.ts';

const requireFromBus = createRequire(new URL('../packages/bus/package.json', import.meta.url));
const { Redis } = requireFromBus('ioredis') as typeof import('ioredis');

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '600' },
    rate: { type: 'string', default: '40' },
    sample: { type: 'string', default: '10' },
    out: { type: 'string', default: fileURLToPath(new URL('./SOAK.md', import.meta.url)) },
    redis: { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
  },
});
const DURATION_S = Number(args.duration);
const RATE = Number(args.rate);
const SAMPLE_S = Number(args.sample);
const MAIN = fileURLToPath(new URL('../apps/cli/src/main.ts', import.meta.url));
const MOCK = fileURLToPath(new URL('./mock-upstream.mjs', import.meta.url));
const MODEL = 'openai/gpt-5.4-mini';
const ADMIN_KEY = `sk-tg-admin-${randomBytes(24).toString('hex')}`;
const PREFIX = `tgsoak${randomBytes(4).toString('hex')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

interface Proc {
  name: string;
  child: ChildProcess;
  out: () => string;
}
const procs: Proc[] = [];

function start(name: string, argv: string[], env: Record<string, string>): Proc {
  const child = spawn(process.execPath, argv, {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const p = { name, child, out: () => out };
  procs.push(p);
  return p;
}

async function waitFor(url: string, what: string, ms = 90_000) {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > until) throw new Error(`${what} did not come up`);
    await sleep(200);
  }
}

const rssMiB = async (pid: number | undefined) => {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 102.4) / 10;
};
const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

async function main() {
  const database = await createPgDatabase();
  const books = await openDatabase({ databaseUrl: database.url });
  const redis = new Redis(args.redis);
  const keys = createKeys(PREFIX);
  const cleanups: (() => Promise<unknown>)[] = [
    async () => books.close(),
    async () => database.drop(),
    async () => {
      for (const pattern of keys.patterns()) {
        let cursor = '0';
        do {
          const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
          cursor = next;
          if (found.length > 0) await redis.del(...found);
        } while (cursor !== '0');
      }
      await redis.quit();
    },
  ];
  try {
    const mockPort = await freePort();
    const cpPort = await freePort();
    const dpPorts = [await freePort(), await freePort()];
    start('mock-upstream', [MOCK], {
      MOCK_PORT: String(mockPort),
      MOCK_MAX_SECONDS: String(DURATION_S + 300),
    });
    await waitFor(`http://127.0.0.1:${mockPort}/health`, 'mock upstream');
    const env = {
      DATABASE_URL: database.url,
      REDIS_URL: args.redis,
      TOLLGATE_REDIS_PREFIX: PREFIX,
      TOLLGATE_SECRET_KEY: randomBytes(32).toString('base64'),
      TOLLGATE_ADMIN_KEY: ADMIN_KEY,
      OPENAI_BASE_URL: `http://127.0.0.1:${mockPort}/v1`,
      TOLLGATE_LOG_LEVEL: 'warn',
    };
    const node = ['--import', 'tsx', MAIN];
    start('control-plane', [...node, 'control-plane'], {
      ...env,
      TOLLGATE_CONTROL_PLANE_PORT: String(cpPort),
    });
    const cp = `http://127.0.0.1:${cpPort}`;
    await waitFor(`${cp}/healthz`, 'control plane');
    dpPorts.forEach((port, i) => {
      start(`data-plane-${i + 1}`, [...node, 'data-plane'], {
        ...env,
        TOLLGATE_DATA_PLANE_PORT: String(port),
        TOLLGATE_CONTROL_PLANE_URL: cp,
      });
    });
    const dps = dpPorts.map((p) => `http://127.0.0.1:${p}`);
    for (const d of dps) await waitFor(`${d}/healthz`, 'data plane');

    // One sub-account with a large cap, so every request reserves and settles a real counter.
    const created = await fetch(`${cp}/v1/sub-accounts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'soak', spend_cap_cents: 100_000_000 }),
    }).then((r) => r.json() as Promise<{ id: string; key: string }>);
    for (const d of dps) {
      for (let i = 0; ; i++) {
        const r = await fetch(`${d}/v1/models`, {
          headers: { authorization: `Bearer ${created.key}` },
        });
        if (r.ok) break;
        if (i > 100) throw new Error('key never reached a data plane');
        await sleep(100);
      }
    }
    const sa = await books.prisma.subAccount.findUniqueOrThrow({ where: { id: created.id } });
    const body = JSON.stringify({
      model: MODEL,
      max_tokens: 32,
      messages: [{ role: 'user', content: 'soak' }],
    });

    // Open loop: one request every 1000/RATE ms, alternating data planes.
    let latencies: number[] = [];
    let answered = 0;
    let failed = 0;
    let sent = 0;
    const statuses = new Map<number, number>();
    const inFlight = new Set<Promise<void>>();
    const fire = () => {
      const target = dps[sent++ % dps.length]!;
      const t0 = performance.now();
      const p = fetch(`${target}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${created.key}`, 'content-type': 'application/json' },
        body,
      })
        .then(async (r) => {
          await r.arrayBuffer();
          latencies.push(performance.now() - t0);
          answered++;
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        })
        .catch(() => {
          failed++;
        });
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    };
    const rows: string[] = [];
    const startedAt = Date.now();
    let next = startedAt;
    const ticker = setInterval(() => {
      // Catch up on missed ticks (a stalled event loop) so the rate stays the rate.
      while (next <= Date.now() && next < startedAt + DURATION_S * 1000) {
        fire();
        next += 1000 / RATE;
      }
    }, 5);
    const pending = async () => {
      const groups = (await redis
        .xinfo('GROUPS', keys.usageStream())
        .catch(() => [])) as unknown[][];
      let n = 0;
      for (const g of groups) {
        const i = g.indexOf('pending');
        const lag = g.indexOf('lag');
        n += Number(g[i + 1] ?? 0) + Number(lag >= 0 ? (g[lag + 1] ?? 0) : 0);
      }
      return n;
    };
    const sampleRow = async (label?: string) => {
      const window = latencies;
      latencies = [];
      const records = await books.prisma.usageRecord.count();
      const rss = await Promise.all(procs.slice(1).map((p) => rssMiB(p.child.pid)));
      const t = Math.round((Date.now() - startedAt) / 1000);
      const row = `| ${label ?? t} | ${answered} | ${records} | ${answered - records} | ${await pending()} | ${pct(
        window,
        50,
      ).toFixed(1)} | ${pct(window, 99).toFixed(1)} | ${rss.join(' | ')} |`;
      rows.push(row);
      console.log(row);
    };
    const header = `| t (s) | answered | records in PG | ingestion lag (answered − recorded) | stream pending + unread | p50 ms | p99 ms | ${procs
      .slice(1)
      .map((p) => `RSS ${p.name} MiB`)
      .join(' | ')} |`;
    const rule = `|${header
      .split('|')
      .slice(1, -1)
      .map(() => '---')
      .join('|')}|`;
    console.log(header);
    while (Date.now() < startedAt + DURATION_S * 1000) {
      await sleep(Math.min(SAMPLE_S * 1000, startedAt + DURATION_S * 1000 - Date.now()));
      await sampleRow();
    }
    clearInterval(ticker);
    while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    const stoppedAt = Date.now();
    let records = 0;
    for (;;) {
      records = await books.prisma.usageRecord.count();
      if (records >= answered || Date.now() - stoppedAt > 60_000) break;
      await sleep(100);
    }
    const catchUpMs = Date.now() - stoppedAt;
    await sampleRow(`end (+${Math.round((Date.now() - stoppedAt) / 1000)} s, load stopped)`);
    await sleep(1_000); // settlements are before the record; give the counters a beat anyway

    // Drift: Redis spend counters against the PostgreSQL records of the same period.
    const now = Date.now();
    const sums = await books.prisma.usageRecord.aggregate({
      where: { subAccountId: sa.id },
      _sum: { billedCostMicros: true },
    });
    const pgMicros = Number(sums._sum.billedCostMicros ?? 0n);
    const counter = async (scope: string) => {
      const k = keys.counter(sa.workspaceId, scope, periodKey('monthly', now));
      const [spent, reserved] = await redis.hmget(k.state, 'spent', 'reserved');
      return { spent: Number(spent ?? 0), reserved: Number(reserved ?? 0) };
    };
    const saCounter = await counter(`sa:${sa.id}`);
    const wsCounter = await counter('ws');
    const ran = (stoppedAt - startedAt) / 1000;
    const kind =
      DURATION_S >= 600
        ? `the full ${DURATION_S} s soak`
        : `a SHORT validation run of ${DURATION_S} s (not the 10-minute soak)`;
    const summary = [
      `Run: ${kind}, ${new Date(startedAt).toISOString()}, ${RATE} req/s offered (open loop) through 2 data planes, 1 control plane, local PostgreSQL + Redis, bench/mock-upstream.mjs; non-streaming chat, max_tokens 32.`,
      '',
      `- requests sent ${sent}, answered ${answered} (${[...statuses]
        .map(([s, n]) => `${s}: ${n}`)
        .join(
          ', ',
        )}), connection failures ${failed}, achieved ${(answered / ran).toFixed(1)} req/s`,
      `- every answered request recorded ${catchUpMs} ms after the load stopped (records ${records}, missing ${Math.max(
        0,
        answered - records,
      )})`,
      `- drift Redis − PostgreSQL: sub-account counter spent ${saCounter.spent} µ$ vs records ${pgMicros} µ$ → ${
        saCounter.spent - pgMicros
      } µ$ (reserved left ${saCounter.reserved}); workspace counter ${wsCounter.spent} µ$ → ${
        wsCounter.spent - pgMicros
      } µ$`,
    ];
    const md = [
      '# Soak benchmark (issue 7)',
      '',
      'Produced by `bash bench/soak.sh` (bench/soak.ts); re-running overwrites this file.',
      '',
      ...summary,
      '',
      header,
      rule,
      ...rows,
      '',
      'Columns: cumulative answered requests and usage records at each sample; ingestion lag is their',
      'difference (requests settled but not yet in PostgreSQL, including what is batched in the data',
      'planes); stream pending + unread is the Redis Stream backlog of the control plane consumer group;',
      'p50/p99 are the latency of the requests answered in that window (client side, loopback); RSS is',
      "each process's resident set from /proc.",
      '',
    ].join('\n');
    await writeFile(args.out, md);
    console.log(summary.join('\n'));
  } finally {
    for (const p of procs.reverse()) {
      if (p.child.exitCode === null) {
        const exited = new Promise((r) => p.child.once('exit', r));
        p.child.kill('SIGTERM');
        await Promise.race([exited, sleep(15_000)]);
        if (p.child.exitCode === null) p.child.kill('SIGKILL');
      }
    }
    for (const c of cleanups) await c().catch((e) => console.error(String(e)));
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
