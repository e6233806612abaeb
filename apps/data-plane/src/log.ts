/** The data plane's logger: JSON lines by default; never given secrets (SPEC §2). */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

export function jsonLogger(level: 'debug' | 'info' | 'warn' | 'error' = 'info'): Logger {
  const order = { debug: 0, info: 1, warn: 2, error: 3 };
  const write = (l: keyof typeof order) => (msg: string, fields?: Record<string, unknown>) => {
    if (order[l] < order[level]) return;
    process.stdout.write(
      `${JSON.stringify({ time: new Date().toISOString(), level: l, plane: 'data', msg, ...fields })}\n`,
    );
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}
