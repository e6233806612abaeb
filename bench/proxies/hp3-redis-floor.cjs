#!/usr/bin/env node
// Reference target, not a product: the bare http-proxy-3 forwarder plus the least work any gateway
// that admits each request through Redis must do before dispatch — read the whole body, JSON.parse
// it, make ONE Redis round trip (a tiny Lua script: INCR one key) and forward the buffered body —
// then, after the answer, ONE more round trip (the settle a cap needs). No pricing, no policy, no
// usage events, no response parsing. Its RPS ratio to the bare forwarder is the ceiling of every
// design that keeps a per-request admit + settle in Redis (see bench/RESULTS.md).
// Env: PROXY_PORT (default 18102), UPSTREAM (default http://127.0.0.1:18081), HP3_DIR, REDIS_URL
const path = require('node:path');
const http = require('node:http');
const dir = path.resolve(__dirname, process.env.HP3_DIR || '../../apps/data-plane');
const hp3 = require(require.resolve('http-proxy-3', { paths: [dir] }));
const { Redis } = require(require.resolve('ioredis', { paths: [dir] }));
const PORT = Number(process.env.PROXY_PORT || 18102);
const UPSTREAM = process.env.UPSTREAM || 'http://127.0.0.1:18081';
const redis = new Redis(process.env.REDIS_URL || 'redis://127.0.0.1:6379');
redis.defineCommand('floorAdmit', {
  numberOfKeys: 1,
  lua: "return redis.call('INCR', KEYS[1])",
});
redis.defineCommand('floorSettle', {
  numberOfKeys: 1,
  lua: "return redis.call('DECR', KEYS[1])",
});
const KEY = `{bench-floor}:${process.pid}`;
const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });
const createProxyServer = hp3.createProxyServer || hp3.default?.createProxyServer;
const proxy = createProxyServer({ target: UPSTREAM, agent, xfwd: false, changeOrigin: false });
proxy.on('error', (_err, _req, res) => {
  if (res && typeof res.writeHead === 'function' && !res.headersSent) {
    res.writeHead(502, { 'content-type': 'application/json' });
    res.end('{"error":{"message":"bad gateway"}}');
  } else if (res?.destroy) res.destroy();
});

/** http-proxy-3 pipes `buffer` into the upstream request: a minimal pipe() that writes the body. */
function bodySource(body) {
  return { pipe: (dest) => dest.end(body) };
}

const server = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    try {
      JSON.parse(body.toString('utf8'));
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"bad json"}}');
      return;
    }
    redis.floorAdmit(KEY).then(
      () => {
        res.once('finish', () => void redis.floorSettle(KEY).catch(() => {}));
        req.headers['content-length'] = String(body.length);
        proxy.web(req, res, { buffer: bodySource(body) });
      },
      () => {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end('{"error":{"message":"redis down"}}');
      },
    );
  });
});
server.listen(PORT, '127.0.0.1', () =>
  console.log(
    `floor (hp3 + parse + 2 Redis round trips) on http://127.0.0.1:${PORT} -> ${UPSTREAM}`,
  ),
);
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => process.exit(0));
