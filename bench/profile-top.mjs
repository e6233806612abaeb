#!/usr/bin/env node
// Top self-time functions of a V8 .cpuprofile (as written by `node --cpu-prof`), plus self time
// grouped by where the code lives (our packages, http-proxy-3, ioredis, zod, node internals, GC…).
// usage: node bench/profile-top.mjs <file.cpuprofile> [topN=30]
import fs from 'node:fs';

const file = process.argv[2];
const topN = Number(process.argv[3] || 30);
if (!file) {
  console.error('usage: node profile-top.mjs <file.cpuprofile> [topN]');
  process.exit(2);
}
const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
// self time per node: sum of sample intervals attributed to it
const self = new Map();
for (let i = 0; i < prof.samples.length; i++) {
  const dt = prof.timeDeltas[i + 1] ?? 0;
  self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + dt);
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const short = (url) =>
  url
    .replace(/^file:\/\//, '')
    .replace(/.*\/node_modules\/\.pnpm\/[^/]+\/node_modules\//, '')
    .replace(/^\/work\/main\//, '');
function group(cf) {
  const u = cf.url;
  if (!u) return cf.functionName.startsWith('(') ? cf.functionName : '(native / builtin)';
  if (u.startsWith('node:')) return `node:${u.slice(5).split('/')[0]}`;
  const m = /node_modules\/\.pnpm\/([^/]+)\//.exec(u);
  if (m) return m[1].replace(/@[\d.]+(_.*)?$/, '');
  if (u.includes('/apps/data-plane/')) return 'apps/data-plane';
  const p = /\/packages\/([^/]+)\//.exec(u);
  if (p) return `packages/${p[1]}`;
  return short(u);
}
const fnAgg = new Map();
const groupAgg = new Map();
for (const [id, t] of self) {
  const cf = byId.get(id).callFrame;
  const key = `${cf.functionName || '(anonymous)'}  ${short(cf.url)}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;
  fnAgg.set(key, (fnAgg.get(key) ?? 0) + t);
  const g = group(cf);
  groupAgg.set(g, (groupAgg.get(g) ?? 0) + t);
}
const pct = (t) => `${((100 * t) / total).toFixed(1).padStart(5)} %`;
console.log(`profile ${file}: ${(total / 1e6).toFixed(2)} s sampled\n`);
console.log('self time by origin:');
for (const [g, t] of [...groupAgg].sort((a, b) => b[1] - a[1]).slice(0, 20)) {
  console.log(`  ${pct(t)}  ${g}`);
}
console.log(`\ntop ${topN} functions by self time:`);
for (const [k, t] of [...fnAgg].sort((a, b) => b[1] - a[1]).slice(0, topN)) {
  console.log(`  ${pct(t)}  ${k}`);
}

// Total (inclusive) time of our own functions: each sample counts once for every distinct function
// of apps/ or packages/ on its stack.
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const ownKey = (cf) =>
  /\/(apps|packages)\//.test(cf.url) && !cf.url.includes('node_modules')
    ? `${cf.functionName || '(anonymous)'}  ${short(cf.url)}:${cf.lineNumber + 1}`
    : null;
const incl = new Map();
for (let i = 0; i < prof.samples.length; i++) {
  const dt = prof.timeDeltas[i + 1] ?? 0;
  const seen = new Set();
  for (let id = prof.samples[i]; id !== undefined; id = parent.get(id)) {
    const k = ownKey(byId.get(id).callFrame);
    if (k !== null && !seen.has(k)) {
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + dt);
    }
  }
}
console.log(`\ntop ${topN} of our functions by total (inclusive) time:`);
for (const [k, t] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, topN)) {
  console.log(`  ${pct(t)}  ${k}`);
}
