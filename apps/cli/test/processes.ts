import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

export interface Running {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the URL a plane logged once it listens ("<plane> plane listening"). */
  listening(plane: 'control' | 'data', ms?: number): Promise<string>;
  stop(): Promise<number | null>;
}

/** `tollgate <args>` exactly as the README runs it, on this Node (24) through tsx. */
export function tollgate(args: string[], env: Record<string, string>): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    err += d;
  });
  const listening = async (plane: 'control' | 'data', ms = 90_000) => {
    const until = Date.now() + ms;
    const pattern = new RegExp(`"msg":"${plane} plane listening"[^\\n]*"url":"([^"]+)"`);
    for (;;) {
      const m = pattern.exec(out);
      if (m) return m[1]!;
      if (child.exitCode !== null)
        throw new Error(`tollgate ${args.join(' ')} exited: ${err}${out}`);
      if (Date.now() > until)
        throw new Error(`tollgate ${args.join(' ')} did not listen: ${err}${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const stop = async () => {
    if (child.exitCode !== null) return child.exitCode;
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => resolve(code)),
    );
    child.kill('SIGTERM');
    return exited;
  };
  return { child, stdout: () => out, stderr: () => err, listening, stop };
}

/** Polls `probe` until it returns a value other than undefined, or fails after `ms`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  ms: number,
  what: string,
): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
