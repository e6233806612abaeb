import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type FakeUpstream, startFakeUpstream } from '../../data-plane/test/fake-upstream.ts';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

export interface Running {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the URL a plane logged once it listens ("<plane> plane listening"). */
  listening(plane: 'control' | 'data', ms?: number): Promise<string>;
  stop(): Promise<number | null>;
}

/** `tollgate <args>` exactly as the README runs it, on this Node (24) through tsx (`nodeArgs`:
 * further flags for node, e.g. an `--import` of a module hook). */
export function tollgate(
  args: string[],
  env: Record<string, string>,
  nodeArgs: string[] = [],
): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', ...nodeArgs, MAIN, ...args], {
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

/** `tollgate data-plane` alone on `redisUrl` (its policy stored there under `prefix` by the test),
 * on any free port, the platform's OpenAI key pointed at `upstreamUrl`; `env` adds to that. */
export function dataPlaneProcess(
  o: { redisUrl: string; prefix: string; secretKey: string; upstreamUrl: string },
  env: Record<string, string> = {},
): Running {
  return tollgate(['data-plane'], {
    REDIS_URL: o.redisUrl,
    TOLLGATE_REDIS_PREFIX: o.prefix,
    TOLLGATE_SECRET_KEY: o.secretKey,
    TOLLGATE_DATA_PLANE_PORT: '0',
    OPENAI_BASE_URL: o.upstreamUrl,
    OPENAI_API_KEY: 'sk-platform-upstream',
    ...env,
  });
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

export interface EmbeddedStart {
  /** The environment `tollgate start` runs with (to start it again). */
  env: Record<string, string>;
  upstream: FakeUpstream;
  proc: Running;
  /** Base URLs of the control and the data plane. */
  cp: string;
  dp: string;
  /** Closes the fake provider and removes the data directory (stop the process first). */
  cleanup(): Promise<void>;
}

/**
 * `tollgate start` embedded: a fresh data directory, both planes on free ports, OpenAI pointed at
 * a fake provider; `env` adds to that (admin key, platform key, …).
 */
export async function startEmbedded(
  name: string,
  env: Record<string, string>,
): Promise<EmbeddedStart> {
  const dir = await mkdtemp(path.join(tmpdir(), `tollgate-${name}-`));
  const upstream = await startFakeUpstream();
  const cleanup = async () => {
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  };
  const full = {
    TOLLGATE_DATA_DIR: path.join(dir, '.tollgate'),
    TOLLGATE_CONTROL_PLANE_PORT: '0',
    TOLLGATE_DATA_PLANE_PORT: '0',
    OPENAI_BASE_URL: upstream.url,
    ...env,
  };
  const proc = tollgate(['start'], full);
  try {
    const cp = await proc.listening('control');
    const dp = await proc.listening('data');
    return { env: full, upstream, proc, cp, dp, cleanup };
  } catch (err) {
    await proc.stop();
    await cleanup();
    throw err;
  }
}

/** Admin REST calls with `adminKey` as the default bearer; each answers the status, the headers and
 * the parsed JSON body. */
export function adminCaller(adminKey: string) {
  return async (base: string, method: string, p: string, body?: unknown, key = adminKey) => {
    const res = await fetch(base + p, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    // biome-ignore lint/suspicious/noExplicitAny: JSON answers are checked field by field
    return { status: res.status, headers: res.headers, body: (await res.json()) as any };
  };
}
