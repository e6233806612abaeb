#!/usr/bin/env node
// Interleaved loopback benchmark driver (adapted from the shared peer-bench kit). Expects
// `bench/services.sh start` to have run (bench/run.sh does both). For every repetition, every
// scenario, every target (order rotated each time), it runs
//   taskset -c AUX_CPU wrk -t1 -c<C> -d<WARMUP>s   (discarded)
//   taskset -c AUX_CPU wrk -t1 -c<C> -d<DURATION>s (recorded)
// and records RPS, latency percentiles, errors, CPU seconds burnt by the target process per request,
// CPU burnt by Redis per request, per-core busy %, and target RSS, as one JSON line per run in
// OUT/raw.jsonl. bench/summarize.mjs turns that into the tables.
//
// env: REPS (3) DURATION (10) WARMUP (2) CONNS (50) AUX_CPU (0) SUT_CPU (1) MAX_MINUTES (20)
//      SCENARIOS (comma list, default all) TARGETS (comma list of names, default all)
//      RUN_DIR (where services.sh wrote pids.env)  OUT (results dir, default RUN_DIR)
//      REDIS_PID (optional: the Redis server's pid, for its CPU per request)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const here = path.dirname(new URL(import.meta.url).pathname);
process.chdir(here);
const env = process.env;
const REPS = Math.min(10, Number(env.REPS || 3));
const DURATION = Math.min(60, Number(env.DURATION || 10));
const WARMUP = Math.min(10, Number(env.WARMUP || 2));
const CONNS = Number(env.CONNS || 50);
const AUX_CPU = env.AUX_CPU || '0';
const SUT_CPU = env.SUT_CPU || '1';
const NICE = env.NICE ?? '-10';
const DEADLINE = Date.now() + Number(env.MAX_MINUTES || 20) * 60_000;
const RUN_DIR = path.resolve(env.RUN_DIR || 'results/current');
const OUT = path.resolve(env.OUT || RUN_DIR);
const REDIS_PID = Number(env.REDIS_PID || 0);
fs.mkdirSync(OUT, { recursive: true });

const pids = Object.fromEntries(
  fs
    .readFileSync(path.join(RUN_DIR, 'pids.env'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split('=')),
);
const ALL_TARGETS = [
  { name: 'direct', port: 18080, key: 'mock_direct' },
  { name: 'http-proxy-3', port: 18101, key: 'hp3' },
  { name: 'hp3+2redis', port: 18102, key: 'floor' },
  { name: 'tollgate', port: 18130, key: 'tollgate' },
  { name: 'tollgate-b', port: 18131, key: 'tollgate_b' },
];
const ALL_SCENARIOS = [
  { name: 'nonstream-c50', body: 'payloads/chat.json', conns: CONNS },
  { name: 'stream-c50', body: 'payloads/chat-stream.json', conns: CONNS },
  { name: 'nonstream-c1', body: 'payloads/chat.json', conns: 1 },
  { name: 'stream-c1', body: 'payloads/chat-stream.json', conns: 1 },
];
const pick = (all, list) => (list ? all.filter((x) => list.split(',').includes(x.name)) : all);
// Only targets services.sh started (tollgate-b runs only when TOLLGATE_B is set).
const TARGETS = pick(
  ALL_TARGETS.filter((t) => pids[`${t.key}_NODEPID`] !== undefined),
  env.TARGETS,
);
const SCENARIOS = pick(ALL_SCENARIOS, env.SCENARIOS);
for (const t of TARGETS) t.pid = Number(pids[`${t.key}_NODEPID`]);
const upstreamPid = Number(pids.mock_upstream_NODEPID);

const CLK = Number(spawnSync('getconf', ['CLK_TCK']).stdout.toString().trim() || 100);
function procCpuSec(pid) {
  if (!pid) return 0;
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK; // utime + stime
  } catch {
    return Number.NaN;
  }
}
function rssMB(pid) {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}
function cpuTimes() {
  // per-core jiffies: busy (user+nice+system+irq+softirq), irq+softirq, total (incl. idle, iowait, steal)
  const out = {};
  for (const line of fs.readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const v = m[2].split(/\s+/).map(Number);
    const busy = v[0] + v[1] + v[2] + v[5] + v[6];
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    out[m[1]] = { busy, irq: v[5] + v[6], total, steal: v[7] };
  }
  return out;
}
function wrk(port, sc, seconds) {
  // run through bash so that `times` reports the CPU used by wrk itself (children user/sys)
  const cmd = `nice -n ${NICE} taskset -c ${AUX_CPU} wrk -t1 -c${sc.conns} -d${seconds}s --timeout 5s -s wrk/post.lua http://127.0.0.1:${port}/v1/chat/completions; times`;
  const r = spawnSync('bash', ['-c', cmd], {
    env: { ...env, BODY_FILE: sc.body },
    timeout: (seconds + 20) * 1000,
  });
  const out = r.stdout.toString();
  const m = /WRKJSON (\{.*\})/.exec(out);
  if (!m) throw new Error(`wrk failed on ${port}: ${out}\n${r.stderr}`);
  const res = JSON.parse(m[1]);
  const tl = out.trim().split('\n').pop().trim().split(/\s+/); // children: "XmY.YYYs XmY.YYYs"
  const sec = (t) => {
    const q = /(\d+)m([\d.]+)s/.exec(t);
    return q ? Number(q[1]) * 60 + Number(q[2]) : Number.NaN;
  };
  res.wrk_cpu_s = sec(tl[0]) + sec(tl[1]);
  return res;
}

const rawFile = path.join(OUT, 'raw.jsonl');
const meta = {
  started: new Date().toISOString(),
  node: spawnSync(env.NODE || 'node', ['-v'])
    .stdout.toString()
    .trim(),
  cpus: os.cpus().map((c) => c.model),
  nproc: os.cpus().length,
  kernel: os.release(),
  wrk: spawnSync('wrk', ['-v']).stdout.toString().split('\n')[0],
  REPS,
  DURATION,
  WARMUP,
  CONNS,
  AUX_CPU,
  SUT_CPU,
  NICE,
  placement: `target under test pinned to CPU ${SUT_CPU}; wrk (1 thread) + upstream mock pinned to CPU ${AUX_CPU}; all at nice ${NICE}; the "direct" target is a second mock instance pinned to CPU ${SUT_CPU}; Redis (shared server, not pinned) serves the data plane`,
};
fs.writeFileSync(path.join(OUT, 'meta.json'), JSON.stringify(meta, null, 2));
console.log(JSON.stringify(meta));

let runIdx = 0;
outer: for (let rep = 0; rep < REPS; rep++) {
  for (let si = 0; si < SCENARIOS.length; si++) {
    const sc = SCENARIOS[si];
    const order = TARGETS.map((_, i) => TARGETS[(i + rep + si) % TARGETS.length]);
    for (const t of order) {
      if (Date.now() + (DURATION + WARMUP + 5) * 1000 > DEADLINE) {
        console.log('deadline reached, stopping');
        break outer;
      }
      wrk(t.port, sc, WARMUP);
      const c0 = procCpuSec(t.pid);
      const u0 = procCpuSec(upstreamPid);
      const r0 = procCpuSec(REDIS_PID);
      const k0 = cpuTimes();
      const w = wrk(t.port, sc, DURATION);
      const c1 = procCpuSec(t.pid);
      const u1 = procCpuSec(upstreamPid);
      const r1 = procCpuSec(REDIS_PID);
      const k1 = cpuTimes();
      const busy = (c) =>
        (100 * (k1[c].busy - k0[c].busy)) / Math.max(1, k1[c].total - k0[c].total);
      const secs = w.duration_us / 1e6;
      let allBusy = 0;
      let allIrq = 0;
      let allSteal = 0;
      for (const c of Object.keys(k1)) {
        allBusy += k1[c].busy - k0[c].busy;
        allIrq += k1[c].irq - k0[c].irq;
        allSteal += k1[c].steal - k0[c].steal;
      }
      const redisS = Number.isFinite(r1 - r0) ? r1 - r0 : 0;
      const ours = c1 - c0 + (t.name === 'direct' ? 0 : u1 - u0) + w.wrk_cpu_s + redisS;
      // CPU used by processes that are not part of this benchmark
      const foreignPct = (100 * ((allBusy - allIrq) / CLK - ours)) / secs;
      const rec = {
        run: runIdx++,
        rep,
        scenario: sc.name,
        target: t.name,
        conns: sc.conns,
        rps: w.requests / secs,
        requests: w.requests,
        p50_ms: w.lat_p50_us / 1000,
        p90_ms: w.lat_p90_us / 1000,
        p99_ms: w.lat_p99_us / 1000,
        p999_ms: w.lat_p999_us / 1000,
        max_ms: w.lat_max_us / 1000,
        mean_ms: w.lat_mean_us / 1000,
        errors: w.err_connect + w.err_read + w.err_write + w.err_timeout,
        non2xx: w.err_status,
        sut_cpu_us_per_req: (1e6 * (c1 - c0)) / w.requests,
        sut_cpu_pct: (100 * (c1 - c0)) / secs,
        redis_cpu_us_per_req: REDIS_PID ? (1e6 * redisS) / w.requests : null,
        upstream_cpu_pct: t.name === 'direct' ? 0 : (100 * (u1 - u0)) / secs,
        core_sut_busy_pct: busy(SUT_CPU),
        core_aux_busy_pct: busy(AUX_CPU),
        sut_rss_mb: rssMB(t.pid),
        bytes: w.bytes,
        wrk_cpu_pct: (100 * w.wrk_cpu_s) / secs,
        foreign_cpu_pct: foreignPct,
        steal_pct: (100 * allSteal) / CLK / secs,
        core_sut_us_per_req: (1e6 * (k1[SUT_CPU].busy - k0[SUT_CPU].busy)) / CLK / w.requests,
      };
      fs.appendFileSync(rawFile, `${JSON.stringify(rec)}\n`);
      console.log(
        `[rep ${rep}] ${sc.name.padEnd(14)} ${t.name.padEnd(13)} rps=${rec.rps.toFixed(0).padStart(6)} p50=${rec.p50_ms.toFixed(2)}ms p99=${rec.p99_ms.toFixed(2)}ms cpu/req=${rec.sut_cpu_us_per_req.toFixed(0)}us redis/req=${(rec.redis_cpu_us_per_req ?? Number.NaN).toFixed(0)}us sut=${rec.sut_cpu_pct.toFixed(0)}% coreSUT=${rec.core_sut_busy_pct.toFixed(0)}% coreAUX=${rec.core_aux_busy_pct.toFixed(0)}% foreign=${rec.foreign_cpu_pct.toFixed(0)}% rss=${rec.sut_rss_mb.toFixed(0)}MB err=${rec.errors} non2xx=${rec.non2xx}`,
      );
    }
  }
}
console.log(`raw results in ${rawFile}`);
