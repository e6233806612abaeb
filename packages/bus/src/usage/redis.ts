import { createKeys } from '@tollgate/redis';
import type { Redis } from 'ioredis';
import type { UsageConsumerOptions, UsageEntry, UsageStream } from '../types.ts';
import { type ConsumerSource, runConsumer } from './consumer-loop.ts';

export interface RedisUsageStreamOptions {
  client: Redis;
  prefix: string;
  /** Approximate cap on the stream length (XADD MAXLEN ~). Entries beyond it are trimmed even if no
   * consumer read them — size it for the longest control-plane outage to ride out. Default 1e6. */
  maxLen?: number;
  /** close() quits the client only when the stream owns it. */
  ownsClient?: boolean;
}

const FIELD = 'd';
type RawEntry = [id: string, fields: string[] | null];

/** An entry whose fields are null was trimmed while pending (the stream's length cap went past it
 * unread): it can only be acked away — and said, since its usage is lost. */
function toEntries(raw: RawEntry[]): { live: UsageEntry[]; gone: string[] } {
  const live: UsageEntry[] = [];
  const gone: string[] = [];
  for (const [id, fields] of raw) {
    const at = fields ? fields.indexOf(FIELD) : -1;
    const data = at >= 0 && at % 2 === 0 ? fields![at + 1] : undefined;
    if (data === undefined) gone.push(id);
    else live.push({ id, data });
  }
  return { live, gone };
}

/** XREADGROUP answers [[stream, entries]] (or null); one stream is read. */
function entriesOf(reply: unknown): RawEntry[] {
  if (!Array.isArray(reply) || reply.length === 0) return [];
  const first = reply[0] as unknown;
  return (Array.isArray(first) ? first[1] : reply[1]) as RawEntry[];
}

/** One entry of an XINFO reply (a flat field, value, field, value … array) as an object. */
function fieldsOf(flat: unknown[]): Record<string, unknown> {
  const f: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) f[String(flat[i])] = flat[i + 1];
  return f;
}

/** The consumers of a group as XINFO CONSUMERS lists them. */
async function consumersOf(
  c: Redis,
  stream: string,
  group: string,
): Promise<{ name: string; pending: number; idle: number }[]> {
  const raw = (await c.xinfo('CONSUMERS', stream, group)) as unknown[][];
  return raw.map((flat) => {
    const f = fieldsOf(flat);
    return { name: String(f.name), pending: Number(f.pending ?? 0), idle: Number(f.idle ?? 0) };
  });
}

const FORGET_IDLE_MS = 3_600_000;
/** How often a consumer deletes the entries every group has acknowledged. */
const TRIM_EVERY_MS = 5_000;

/** Stream ids (`<ms>-<seq>`) in order. */
function idBefore(a: string, b: string): boolean {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  return am === bm ? BigInt(as) < BigInt(bs) : BigInt(am) < BigInt(bm);
}

/**
 * Deletes the entries that every group of the stream is done with: those before each group's
 * oldest pending entry (delivered, not yet acknowledged) or, with none pending, before the last
 * entry it was given. An entry appended since is newer than both, so nothing unread goes. Without
 * it the stream would keep every acknowledged batch until its length cap, however fast it is read.
 */
async function trimAcknowledged(c: Redis, stream: string): Promise<void> {
  let floor: string | null = null;
  for (const flat of (await c.xinfo('GROUPS', stream)) as unknown[][]) {
    const g = fieldsOf(flat);
    let needed = String(g['last-delivered-id'] ?? '0-0');
    if (Number(g.pending ?? 0) > 0) {
      const summary = (await c.xpending(stream, String(g.name))) as [number, string | null];
      if (summary[1] && idBefore(summary[1], needed)) needed = summary[1];
    }
    if (floor === null || idBefore(needed, floor)) floor = needed;
  }
  if (floor !== null && floor !== '0-0') await c.xtrim(stream, 'MINID', '~', floor);
}

function redisSource(client: Redis, stream: string, o: UsageConsumerOptions): ConsumerSource {
  // A blocking read holds its connection, so each consumer has its own.
  let conn: Redis | null = null;
  let claimCursor = '0-0';
  let lastTrimAt = 0;
  const use = () => {
    if (!conn) throw new Error('usage consumer is not started');
    return conn;
  };
  async function live(raw: RawEntry[]) {
    const { live, gone } = toEntries(raw);
    if (gone.length > 0) {
      await use().xack(stream, o.group, ...gone);
      o.onError?.(
        new Error(
          `${gone.length} usage entries were trimmed from the stream before they were read (its length cap): their usage is lost`,
        ),
      );
    }
    return live;
  }
  async function createGroup(c: Redis) {
    try {
      // From '0': entries appended before the group existed are usage too.
      await c.xgroup('CREATE', stream, o.group, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
    }
  }
  /** Redis lost the stream and its group (flushed, restarted empty): create them again, so the
   * consumer resumes with what data planes append from now on, then let the loop retry. */
  async function recreateOnNoGroup<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if (String((err as Error)?.message).includes('NOGROUP')) await createGroup(use());
      throw err;
    }
  }
  const read = (count: number, id: string, blockMs?: number) =>
    recreateOnNoGroup(async () => {
      const block = blockMs === undefined ? [] : ['BLOCK', String(blockMs)];
      const args = ['GROUP', o.group, o.consumer, 'COUNT', String(count), ...block];
      const reply = await (use().xreadgroup as (...a: string[]) => Promise<unknown>)(
        ...args,
        'STREAMS',
        stream,
        id,
      );
      return live(entriesOf(reply));
    });
  return {
    async init() {
      // Own timeout: the shared client's commandTimeout would cut a long BLOCK short, while a read
      // must still fail (and be retried) if the connection silently died.
      conn = client.duplicate({
        commandTimeout: o.blockMs + 5_000,
        connectionName: `${stream}:consumer`,
      });
      conn.on('error', () => {});
      await createGroup(conn);
      // Each control-plane start joins as a new consumer: those of replicas gone for good (killed,
      // so they could not leave) would pile up in the group. Only ones with nothing pending go —
      // nothing of theirs is lost — and best effort: a failure here must not stop the ingest.
      const forgetMs = o.forgetIdleMs ?? FORGET_IDLE_MS;
      try {
        for (const other of await consumersOf(conn, stream, o.group)) {
          if (other.name !== o.consumer && other.pending === 0 && other.idle >= forgetMs) {
            await conn.xgroup('DELCONSUMER', stream, o.group, other.name);
          }
        }
      } catch {}
    },
    ownPending: (count) => read(count, '0'),
    claim: (count, idleMs) =>
      recreateOnNoGroup(async () => {
        const reply = (await use().xautoclaim(
          stream,
          o.group,
          o.consumer,
          idleMs,
          claimCursor,
          'COUNT',
          count,
        )) as [string, RawEntry[]];
        claimCursor = reply[0];
        return live(reply[1]);
      }),
    readNew: (count, blockMs) => read(count, '>', blockMs),
    async ack(ids) {
      if (ids.length > 0) await use().xack(stream, o.group, ...ids);
      const now = Date.now();
      if (now - lastTrimAt < (o.trimEveryMs ?? TRIM_EVERY_MS)) return;
      lastTrimAt = now;
      // Best effort: entries left behind are deleted by the next trim.
      await trimAcknowledged(use(), stream).catch((err) => o.onError?.(err));
    },
    interrupt() {
      // Rejects the blocked XREADGROUP at once; nothing is lost (unread entries stay in the stream).
      conn?.disconnect();
    },
    async close() {
      const c = conn;
      conn = null;
      if (!c) return;
      // A graceful stop leaves the group when nothing of its own is pending (else another consumer
      // claims those entries, and the consumer is forgotten once idle). On the shared client: the
      // consumer's own connection may have been cut to end a blocked read.
      try {
        const self = (await consumersOf(client, stream, o.group)).find(
          (x) => x.name === o.consumer,
        );
        if (self?.pending === 0) await client.xgroup('DELCONSUMER', stream, o.group, o.consumer);
      } catch {}
      if (c.status !== 'end') await c.quit().catch(() => c.disconnect());
    },
  };
}

/** Usage events on a Redis Stream, consumed through consumer groups (XREADGROUP/XACK/XAUTOCLAIM). */
export function createRedisUsageStream(opts: RedisUsageStreamOptions): UsageStream {
  const { client } = opts;
  const stream = createKeys(opts.prefix).usageStream();
  const maxLen = String(opts.maxLen ?? 1_000_000);
  const consumers = new Set<ReturnType<typeof runConsumer>>();

  return {
    async append(batch) {
      if (batch.length === 0) return;
      const p = client.pipeline();
      for (const data of batch) p.xadd(stream, 'MAXLEN', '~', maxLen, '*', FIELD, data);
      const results = (await p.exec()) ?? [];
      const failed = results.find(([err]) => err);
      if (failed) throw failed[0];
    },
    createConsumer(o) {
      const consumer = runConsumer(redisSource(client, stream, o), o);
      consumers.add(consumer);
      return consumer;
    },
    async lag(group) {
      const msOf = (id: string) => Number(id.slice(0, id.indexOf('-')));
      let info: Record<string, unknown> | undefined;
      try {
        const groups = (await client.xinfo('GROUPS', stream)) as unknown[][];
        for (const flat of groups) {
          const o = fieldsOf(flat);
          if (o.name === group) info = o;
        }
      } catch (err) {
        if (!/no such key/i.test(String(err))) throw err;
        return { pending: 0, undelivered: 0, oldestUnackedMs: null };
      }
      const now = Date.now();
      if (info === undefined) {
        const first = (await client.xrange(stream, '-', '+', 'COUNT', 1))[0];
        return {
          pending: 0,
          undelivered: await client.xlen(stream),
          oldestUnackedMs: first === undefined ? null : Math.max(0, now - msOf(first[0])),
        };
      }
      const pending = Number(info.pending ?? 0);
      let oldest: number | null = null;
      if (pending > 0) {
        const summary = (await client.xpending(stream, group)) as [number, string | null];
        if (summary[1]) oldest = msOf(summary[1]);
      }
      const last = String(info['last-delivered-id'] ?? '0-0');
      const next = (await client.xrange(stream, `(${last}`, '+', 'COUNT', 1))[0];
      if (next !== undefined && (oldest === null || msOf(next[0]) < oldest)) oldest = msOf(next[0]);
      return {
        pending,
        undelivered: typeof info.lag === 'number' ? info.lag : next === undefined ? 0 : 1,
        oldestUnackedMs: oldest === null ? null : Math.max(0, now - oldest),
      };
    },
    async close() {
      await Promise.all([...consumers].map((c) => c.stop()));
      consumers.clear();
      if (opts.ownsClient) await client.quit();
    },
  };
}
