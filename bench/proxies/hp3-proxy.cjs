#!/usr/bin/env node
// Bare reverse proxy using http-proxy-3 (copied from the shared peer-bench kit). HP3_DIR is where
// http-proxy-3 is resolved from; the default is apps/data-plane, i.e. the very version the data plane uses.
// Env: PROXY_PORT (default 18101), UPSTREAM (default http://127.0.0.1:18081), HP3_DIR (default ../../apps/data-plane)
const path = require('node:path');
const http = require('node:http');
const dir = path.resolve(__dirname, process.env.HP3_DIR || '../../apps/data-plane');
const hp3 = require(require.resolve('http-proxy-3', { paths: [dir] }));
const version = require(
  path.join(
    path.dirname(require.resolve('http-proxy-3/package.json', { paths: [dir] })),
    'package.json',
  ),
).version;
const PORT = Number(process.env.PROXY_PORT || 18101);
const UPSTREAM = process.env.UPSTREAM || 'http://127.0.0.1:18081';
// keep-alive agent toward the upstream: without it every proxied request opens a new TCP connection
// (the classic http-proxy pitfall that collapses throughput on TIME_WAIT / ephemeral ports)
const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });
const createProxyServer = hp3.createProxyServer || hp3.default?.createProxyServer;
const proxy = createProxyServer({ target: UPSTREAM, agent, xfwd: false, changeOrigin: false });
proxy.on('error', (_err, _req, res) => {
  if (res && typeof res.writeHead === 'function' && !res.headersSent) {
    res.writeHead(502, { 'content-type': 'application/json' });
    res.end('{"error":{"message":"bad gateway"}}');
  } else if (res?.destroy) res.destroy();
});
const server = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => proxy.web(req, res));
server.listen(PORT, '127.0.0.1', () =>
  console.log(
    `http-proxy-3@${version} on http://127.0.0.1:${PORT} -> ${UPSTREAM} (node ${process.version})`,
  ),
);
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => process.exit(0));
