import type { Logger as PlaneLogger } from '@tollgate/data-plane';

/** JSON lines on stdout (or `out`: `workspaces create` keeps stdout for its result). Callers pass ids and counts, never secrets (keys, provider credentials). */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Logger = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET = /(sk-tg-(admin-)?[A-Za-z0-9]{8})[A-Za-z0-9]+/g;

export function createLogger(
  minLevel: LogLevel,
  component: string,
  out: NodeJS.WritableStream = process.stdout,
): Logger {
  return (level, msg, fields = {}) => {
    if (ORDER[level] < ORDER[minLevel]) return;
    const line = JSON.stringify({
      time: new Date().toISOString(),
      level,
      component,
      msg,
      ...fields,
    });
    // Belt and braces: a key that slipped into a message is cut to its display prefix.
    out.write(`${line.replace(SECRET, '$1…')}\n`);
  };
}

/** The same lines through the data plane's logger interface. */
export function planeLogger(log: Logger): PlaneLogger {
  return {
    debug: (msg, fields) => log('debug', msg, fields),
    info: (msg, fields) => log('info', msg, fields),
    warn: (msg, fields) => log('warn', msg, fields),
    error: (msg, fields) => log('error', msg, fields),
  };
}
