import type { Socket } from 'node:net';
import type { RedisClient } from './scripts.ts';

/**
 * Commands sent during one turn of the event loop leave in one socket write. Under concurrency many
 * admissions and settles are sent in the same turn (one per answer or request read in it); written
 * one by one, each would cost a syscall here and a read on the Redis server. ioredis' auto-pipelining
 * batches too, but builds a Pipeline (a full command set, promises, maps) per batch: at low
 * concurrency that is one Pipeline per command, and those objects outlive young-generation GCs
 * (bench/RESULTS.md, "This round"). Corking the socket until the turn's check phase gives the same
 * single write without them. A lone command (concurrency 1) waits for nothing: the check phase
 * follows the I/O callbacks of the turn that sent it.
 */
interface Batch {
  corked: Socket | null;
  release: () => void;
}

const batches = new WeakMap<RedisClient, Batch>();

/** Opts a (single-node) client in; `holdWrites` does nothing for other clients. */
export function batchWrites(client: RedisClient): void {
  const batch: Batch = {
    corked: null,
    release: () => {
      const socket = batch.corked;
      batch.corked = null;
      socket?.uncork();
    },
  };
  batches.set(client, batch);
}

/** Call before sending a command: writes of this turn are held and leave together. */
export function holdWrites(client: RedisClient): void {
  const batch = batches.get(client);
  if (batch === undefined || batch.corked !== null || client.status !== 'ready') return;
  const socket = (client as { stream?: Socket }).stream;
  if (socket === undefined || socket.destroyed || !socket.writable) return;
  socket.cork();
  batch.corked = socket;
  setImmediate(batch.release);
}
