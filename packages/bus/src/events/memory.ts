import { EventEmitter } from 'node:events';
import type { EventBus } from '../types.ts';

/**
 * In-process event bus (embedded mode). Messages are delivered on the next macrotask, as a network
 * hop would be: a publisher never runs subscriber code inside its own call.
 */
export function createMemoryEventBus(): EventBus {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  return {
    async publish(message) {
      setImmediate(() => emitter.emit('message', message));
    },
    async subscribe(onMessage) {
      const listener = (message: string) => {
        try {
          onMessage(message);
        } catch {
          // A failing subscriber only affects itself.
        }
      };
      emitter.on('message', listener);
      return async () => {
        emitter.off('message', listener);
      };
    },
    async close() {
      emitter.removeAllListeners();
    },
  };
}
