// Start-up checks that turn "cannot reach X" into one line naming the variable to fix (SPEC §2),
// run before anything is migrated, printed or listened on. Node built-ins only: `tollgate
// data-plane` imports this too (no Prisma, no control plane).
import net from 'node:net';
import tls from 'node:tls';

/** A start-up failure the operator fixes in the environment: printed as `tollgate: <message>`,
 * one line, never holding a secret. */
export class StartupError extends Error {}

/** One line: Prisma's and Node's messages span several, with blank lines between. */
export function oneLine(text: string): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ');
}

/** `text` with the URL's password (as written and decoded) and the URL itself cut out. */
export function redact(text: string, url: string): string {
  let out = text.split(url).join('<url>');
  try {
    const raw = new URL(url).password;
    for (const secret of new Set([raw, safeDecode(raw)])) {
      if (secret) out = out.split(secret).join('***');
    }
  } catch {
    // not a URL: nothing more to cut
  }
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** `host:port`, an IPv6 address bracketed. */
export function hostPort(host: string, port: number | string): string {
  return `${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;
}

const SOCKET_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name could not be resolved',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'timed out',
};

const REDIS_TIMEOUT_MS = 5_000;

/**
 * Connects to REDIS_URL as ioredis would (credentials, database, TLS for `rediss:`), sends AUTH,
 * SELECT and PING, and answers once Redis said PONG; otherwise throws a StartupError naming
 * REDIS_URL, the host and the reason — never the password.
 */
export async function checkRedis(redisUrl: string, timeoutMs = REDIS_TIMEOUT_MS): Promise<void> {
  const url = new URL(redisUrl);
  const q = url.searchParams;
  const host = url.hostname.replace(/^\[|\]$/g, '') || 'localhost';
  const port = Number(url.port || 6379);
  const where = hostPort(host, port);
  // ioredis: credentials and database from the URL, the query string filling in what it lacks.
  const hasAuth = url.username !== '' || url.password !== '';
  const username = hasAuth ? safeDecode(url.username) : (q.get('username') ?? '');
  const password = hasAuth ? safeDecode(url.password) : (q.get('password') ?? '');
  const db = url.pathname.length > 1 ? url.pathname.slice(1) : (q.get('db') ?? '');

  const commands: { name: string; args: string[] }[] = [];
  if (username || password) {
    commands.push({ name: 'AUTH', args: username ? [username, password] : [password] });
  }
  if (db && db !== '0') commands.push({ name: 'SELECT', args: [db] });
  commands.push({ name: 'PING', args: [] });
  const wire = commands
    .map(({ name, args }) => {
      const parts = [name, ...args];
      return `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`;
    })
    .join('');

  const fail = (reason: string) => new StartupError(redact(`REDIS_URL: ${reason}`, redisUrl));
  const replies = await new Promise<string[]>((resolve, reject) => {
    const socket =
      url.protocol === 'rediss:'
        ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host })
        : net.connect({ host, port });
    let connected = false;
    let buffer = '';
    const lines: string[] = [];
    const done = (err: Error | null) => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => {});
      socket.destroy();
      if (err) reject(err);
      else resolve(lines);
    };
    let tcp = false;
    const seconds = `${timeoutMs / 1000} s`;
    const timer = setTimeout(
      () =>
        done(
          fail(
            connected
              ? `${where} did not answer within ${seconds}`
              : tcp
                ? `TLS handshake with ${where} did not complete within ${seconds} (does it speak TLS, as rediss: says?)`
                : `cannot connect to ${where} (no answer within ${seconds})`,
          ),
        ),
      timeoutMs,
    );
    socket.once('connect', () => {
      tcp = true;
    });
    socket.once(url.protocol === 'rediss:' ? 'secureConnect' : 'connect', () => {
      connected = true;
      socket.write(wire);
    });
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      for (let i = buffer.indexOf('\r\n'); i >= 0; i = buffer.indexOf('\r\n')) {
        lines.push(buffer.slice(0, i));
        buffer = buffer.slice(i + 2);
      }
      // Every reply to AUTH, SELECT and PING is one line (+OK, +PONG, -ERR …). Stop at the first
      // error: what follows it only repeats it (NOAUTH after a refused AUTH).
      if (lines.length >= commands.length || lines.some((l) => !l.startsWith('+'))) done(null);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const reason = (err.code && SOCKET_REASONS[err.code]) ?? oneLine(err.message);
      done(
        fail(
          connected
            ? `connection to ${where} failed (${reason})`
            : `cannot connect to ${where} (${reason})`,
        ),
      );
    });
    socket.on('close', () =>
      done(
        fail(
          `${where} closed the connection before answering (is it Redis, and TLS as the URL says?)`,
        ),
      ),
    );
  });

  for (const [i, reply] of replies.entries()) {
    const command = commands[i]!;
    if (reply.startsWith('+')) continue;
    const text = oneLine(reply.replace(/^-/, ''));
    if (!reply.startsWith('-')) throw fail(`${where} does not answer as Redis does`);
    if (command.name === 'AUTH') {
      // As ioredis: a password given to a server that has none is ignored.
      if (/no password is set|without any password configured/.test(text)) continue;
      throw fail(`${where} refused the credentials (${text})`);
    }
    if (/^NOAUTH/.test(text)) throw fail(`${where} requires a password (${text})`);
    if (command.name === 'SELECT') throw fail(`${where} refused database ${db} (${text})`);
    throw fail(`${where} answered ${command.name} with an error (${text})`);
  }
}

const LISTEN_CODES = new Set([
  'EADDRINUSE',
  'EACCES',
  'EADDRNOTAVAIL',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EAI_NONAME',
]);

/**
 * A failure to listen as one line naming the variable to change (`variable` names the port's);
 * any other error is returned as it is.
 */
export function listenError(variable: string, host: string, port: number, err: unknown): unknown {
  const e = err as NodeJS.ErrnoException;
  if (!e || typeof e.code !== 'string') return err;
  if (!LISTEN_CODES.has(e.code) && e.syscall !== 'listen') return err;
  const at = hostPort(host, port);
  switch (e.code) {
    case 'EADDRINUSE':
      return new StartupError(`${variable}: ${at} is already in use`);
    case 'EACCES':
      return new StartupError(`${variable}: not allowed to listen on ${at} (permission denied)`);
    case 'EADDRNOTAVAIL':
      return new StartupError(`TOLLGATE_HOST: ${host} is not an address of this machine`);
    case 'ENOTFOUND':
    case 'EAI_FAIL':
    case 'EAI_NONAME':
      return new StartupError(`TOLLGATE_HOST: ${host} is not a known host name or address`);
    case 'EAI_AGAIN':
      return new StartupError(`TOLLGATE_HOST: ${host} could not be resolved (DNS not answering)`);
    default:
      return new StartupError(`${variable}: cannot listen on ${at} (${e.code})`);
  }
}

/**
 * Binds `host:port` and lets go again, so that a port in use or a bad TOLLGATE_HOST stops start-up
 * before migrations run or an admin key is printed. (Port 0 checks the host only.)
 */
export async function checkListen(variable: string, host: string, port: number): Promise<void> {
  const server = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
  } catch (err) {
    throw listenError(variable, host, port, err);
  }
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
