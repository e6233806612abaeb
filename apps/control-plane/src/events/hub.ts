import type { EventBus } from '@tollgate/bus';
import {
  decodeLive,
  encodeLive,
  type LiveMessage,
  type SpendUpdate,
  type StoredEvent,
} from './types.ts';

/** Most messages a slow subscriber may have waiting; beyond it the oldest are dropped. */
const MAX_QUEUED = 1_000;

export interface EventHub {
  /** Subscribes this replica to the bus. */
  start(): Promise<void>;
  /** Publishes committed events and spend updates to every replica (this one included). */
  publish(events: readonly StoredEvent[], spend?: readonly SpendUpdate[]): Promise<void>;
  /** Messages heard from now on that `pick` maps to a value, until the iterator is returned. */
  listen<T>(pick: (m: LiveMessage) => T | null): AsyncIterableIterator<T>;
  /** Ends every open listener and unsubscribes. */
  stop(): Promise<void>;
}

/**
 * One bus subscription per control-plane replica, fanned out in memory to its GraphQL
 * subscribers. Events reach subscribers only through the bus — also on the replica that stored
 * them — so every replica sees the same stream in the same way.
 */
export function createEventHub(bus: EventBus, onError?: (err: unknown) => void): EventHub {
  const listeners = new Set<(m: LiveMessage | null) => void>();
  let unsubscribe: (() => Promise<void>) | null = null;
  return {
    async start() {
      unsubscribe = await bus.subscribe((raw) => {
        const message = decodeLive(raw);
        if (!message) return;
        for (const l of listeners) l(message);
      });
    },
    async publish(events, spend = []) {
      const messages: LiveMessage[] = [
        ...events.map((event) => ({ kind: 'event' as const, event })),
        ...spend.map((update) => ({ kind: 'spend' as const, update })),
      ];
      for (const m of messages) {
        await bus.publish(encodeLive(m)).catch((err) => onError?.(err));
      }
    },
    listen<T>(pick: (m: LiveMessage) => T | null): AsyncIterableIterator<T> {
      const queue: T[] = [];
      let wake: ((r: IteratorResult<T>) => void) | null = null;
      let done = false;
      const finish = () => {
        done = true;
        listeners.delete(listener);
        wake?.({ value: undefined, done: true });
        wake = null;
      };
      // null = the hub stops: end the iteration.
      const listener = (m: LiveMessage | null) => {
        if (m === null) return finish();
        const value = pick(m);
        if (value === null) return;
        if (wake) {
          const w = wake;
          wake = null;
          w({ value, done: false });
          return;
        }
        queue.push(value);
        if (queue.length > MAX_QUEUED) queue.shift();
      };
      listeners.add(listener);
      const iterator: AsyncIterableIterator<T> = {
        next: () => {
          const value = queue.shift();
          if (value !== undefined) return Promise.resolve({ value, done: false });
          if (done) return Promise.resolve({ value: undefined, done: true });
          return new Promise((resolve) => {
            wake = resolve;
          });
        },
        return: () => {
          finish();
          return Promise.resolve({ value: undefined, done: true });
        },
        [Symbol.asyncIterator]: () => iterator,
      };
      return iterator;
    },
    async stop() {
      for (const l of [...listeners]) l(null);
      await unsubscribe?.();
      unsubscribe = null;
    },
  };
}
