#!/usr/bin/env node
// Summarize a results directory written by bench/bench.mjs (adapted from the shared peer-bench kit).
// usage: node bench/summarize.mjs <results dir> [maxForeignPct]
//   maxForeignPct: keep only runs where the CPU used by processes outside the benchmark stayed below
//   this % (the machine is shared); the table says how many runs survived.
// env: RESULTS_MD (optional) a markdown file whose block between `<!-- results:start -->` and
//      `<!-- results:end -->` is replaced by the generated tables (created when missing).
// Prints medians per scenario x target and the ratios to the bare http-proxy-3 forwarder measured in
// the same run, then checks the aim (RPS >= 0.75x bare forwarder, added p50 <= 0.3 ms at concurrency 1).
import fs from 'node:fs';
import path from 'node:path';

const dir = process.argv[2];
const maxForeign =
  process.argv[3] !== undefined ? Number(process.argv[3]) : Number.POSITIVE_INFINITY;
if (!dir) {
  console.error('usage: node summarize.mjs <results dir> [maxForeignPct]');
  process.exit(2);
}
const all = fs
  .readFileSync(path.join(dir, 'raw.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l));
const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8'));
const rows = all.filter((r) => !(r.foreign_cpu_pct > maxForeign));
const med = (a) => {
  const s = a.filter(Number.isFinite).sort((x, y) => x - y);
  const n = s.length;
  if (!n) return Number.NaN;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const int = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const scenarios = [...new Set(all.map((r) => r.scenario))];
const targets = [...new Set(all.map((r) => r.target))];
const BARE = 'http-proxy-3';
const US = 'tollgate';
/** Reference: the bare forwarder + body parse + one Redis round trip before dispatch, one after. */
const FLOOR = 'hp3+2redis';
const RPS_AIM = 0.75;
const P50_AIM_MS = 0.3;

const S = {};
for (const sc of scenarios) {
  S[sc] = {};
  for (const t of targets) {
    const rs = rows.filter((r) => r.scenario === sc && r.target === t);
    const m = (k) => med(rs.map((r) => r[k]));
    S[sc][t] = {
      runs: rs.length,
      rps: m('rps'),
      p50: m('p50_ms'),
      p99: m('p99_ms'),
      cpu: m('sut_cpu_us_per_req'),
      redis: m('redis_cpu_us_per_req'),
      rss: m('sut_rss_mb'),
      foreign: m('foreign_cpu_pct'),
      errors: rs.reduce((a, r) => a + r.errors + r.non2xx, 0),
    };
  }
}
/** Per-repetition ratio of two targets (same rep, same scenario: measured minutes apart). */
function perRep(sc, key, fn) {
  const reps = [...new Set(rows.filter((r) => r.scenario === sc).map((r) => r.rep))];
  return reps
    .map((rep) => {
      const a = rows.find((r) => r.scenario === sc && r.rep === rep && r.target === US);
      const b = rows.find((r) => r.scenario === sc && r.rep === rep && r.target === BARE);
      return a && b ? fn(a[key], b[key]) : Number.NaN;
    })
    .filter(Number.isFinite);
}
const range = (xs, d) => (xs.length ? `${f(Math.min(...xs), d)}–${f(Math.max(...xs), d)}` : 'n/a');

let out = '';
out += `${meta.placement}. wrk ${meta.DURATION} s per run after a ${meta.WARMUP} s warm-up, ${meta.REPS} interleaved repetitions (target order rotated); values are medians over repetitions. Node ${meta.node}, ${meta.nproc} × ${meta.cpus[0]}, started ${meta.started}.`;
if (Number.isFinite(maxForeign)) out += ` Only runs with foreign CPU < ${maxForeign} % are kept.`;
out += '\n\n';
out +=
  '| scenario | target | runs | RPS | p50 ms | p99 ms | CPU µs/req (target) | Redis CPU µs/req | RSS MB | RPS / bare | CPU/req / bare | p50 − bare p50 ms | errors + non-2xx |\n';
out += '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n';
for (const sc of scenarios) {
  const b = S[sc][BARE] ?? {};
  for (const t of targets) {
    const o = S[sc][t];
    if (!o.runs) continue;
    const redis = t === US || t === FLOOR ? int(o.redis) : '–';
    out += `| ${sc} | ${t} | ${o.runs} | ${int(o.rps)} | ${f(o.p50)} | ${f(o.p99)} | ${int(o.cpu)} | ${redis} | ${f(o.rss, 0)} | ${f(o.rps / b.rps)} | ${f(o.cpu / b.cpu)} | ${f(o.p50 - b.p50, 3)} | ${o.errors} |\n`;
  }
}
out += '\n';

out += `### Aim: ≥ ${RPS_AIM}× the bare forwarder's RPS, ≤ +${P50_AIM_MS} ms added p50 at concurrency 1\n\n`;
const verdicts = [];
for (const sc of scenarios) {
  const o = S[sc][US];
  const b = S[sc][BARE];
  if (!o?.runs || !b?.runs) continue;
  const ratio = o.rps / b.rps;
  const reps = perRep(sc, 'rps', (x, y) => x / y);
  const ok = ratio >= RPS_AIM;
  verdicts.push(ok);
  let line = `- **${sc}**: RPS ${int(o.rps)} vs ${int(b.rps)} → **${f(ratio)}×** (per-rep ${range(reps, 2)}) ${ok ? '✅' : '❌'}`;
  if (o.runs && sc.endsWith('-c1')) {
    const added = o.p50 - b.p50;
    const addedReps = perRep(sc, 'p50_ms', (x, y) => x - y);
    const okP = added <= P50_AIM_MS;
    verdicts.push(okP);
    line += `; p50 ${f(o.p50, 3)} vs ${f(b.p50, 3)} ms → **+${f(added, 3)} ms** (per-rep ${range(addedReps, 3)}) ${okP ? '✅' : '❌'}`;
  }
  line += `; CPU/req ${int(o.cpu)} µs vs ${int(b.cpu)} µs (${f(o.cpu / b.cpu)}×) + ${int(o.redis)} µs in Redis`;
  out += `${line}\n`;
}
out += `\nOverall: ${verdicts.every(Boolean) ? '**aim met**' : `**aim not met** (${verdicts.filter((v) => !v).length} of ${verdicts.length} checks fail)`}.\n`;
const fr = all.map((r) => r.foreign_cpu_pct).filter(Number.isFinite);
out += `\nForeign CPU (other tenants on this machine) per run: median ${f(med(fr), 0)} %, runs above 20 %: ${fr.filter((x) => x > 20).length}/${fr.length}.\n`;

console.log(out);
fs.writeFileSync(path.join(dir, 'summary.md'), out);
if (process.env.RESULTS_MD) {
  const file = process.env.RESULTS_MD;
  const START = '<!-- results:start -->';
  const END = '<!-- results:end -->';
  const block = `${START}\n${out}${END}`;
  let doc = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  if (doc.includes(START) && doc.includes(END)) {
    doc = doc.slice(0, doc.indexOf(START)) + block + doc.slice(doc.indexOf(END) + END.length);
  } else {
    doc = `# Benchmark results\n\n${block}\n${doc}`;
  }
  fs.writeFileSync(file, doc);
  console.log(`tables written to ${file}`);
}
