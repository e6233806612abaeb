import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `vite build` puts the ops console (apps/console/dist). */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../console/dist', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tollgate console not built</title></head>
<body><main><h1>The Tollgate console is not built</h1>
<p>Build it with <code>npx -y pnpm@10.34.9 --filter @tollgate/console run build</code>
(<code>npm start</code> and <code>npm test</code> do this for you), then reload.</p>
<p>The admin API is served here regardless: <code>/v1/…</code> and <code>/graphql</code>.</p>
</main></body></html>`;

/** The console loads nothing from elsewhere: scripts, styles and /graphql (HTTP and WebSocket)
 * all come from this origin. */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'content-security-policy': CSP,
};

async function fileAt(path: string): Promise<Buffer | null> {
  try {
    const s = await stat(path);
    if (!s.isFile()) return null;
    return await readFile(path);
  } catch {
    return null;
  }
}

/**
 * Serves the built console for GET/HEAD requests: a file of `dir` when the path names one, else
 * index.html (client-side routes); never anything outside `dir`. Answers false for other methods
 * so the caller can 404/405 them. Without a build, a plain page says how to build it.
 */
export function createConsoleHandler(dir: string = DEFAULT_CONSOLE_DIR) {
  const root = resolve(dir);
  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    let pathname: string;
    try {
      pathname = decodeURIComponent(url.pathname);
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end('bad path');
      return true;
    }
    if (pathname.includes('\0')) {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end('bad path');
      return true;
    }
    const target = resolve(root, `.${pathname}`);
    const inside = target === root || target.startsWith(root + sep);
    const send = (status: number, type: string, body: Buffer | string, cache: string) => {
      res.writeHead(status, {
        'content-type': type,
        'content-length': Buffer.byteLength(body),
        'cache-control': cache,
        ...SECURITY_HEADERS,
      });
      res.end(req.method === 'HEAD' ? undefined : body);
      return true;
    };
    if (inside && target !== root) {
      const body = await fileAt(target);
      if (body) {
        const type = TYPES[extname(target).toLowerCase()] ?? 'application/octet-stream';
        const immutable = pathname.startsWith('/assets/');
        return send(
          200,
          type,
          body,
          immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
        );
      }
      // A missing asset is a 404, not the app shell (a stale page would load HTML as a script).
      if (extname(target) !== '') {
        return send(404, 'text/plain; charset=utf-8', 'not found', 'no-cache');
      }
    } else if (!inside) {
      return send(404, 'text/plain; charset=utf-8', 'not found', 'no-cache');
    }
    const index = await fileAt(resolve(root, 'index.html'));
    if (!index) return send(503, 'text/html; charset=utf-8', NOT_BUILT, 'no-cache');
    return send(200, 'text/html; charset=utf-8', index, 'no-cache');
  };
}
