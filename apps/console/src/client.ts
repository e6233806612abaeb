import { createClient as createWsClient } from 'graphql-ws';
import { Client, cacheExchange, fetchExchange, subscriptionExchange } from 'urql';

/** `refused`: the server closed the socket refusing the key (revoked, expired): no retry helps. */
export type ConnectionState = 'connecting' | 'connected' | 'lost' | 'refused';

/** graphql-ws close code of a refused connection (the control plane's `4403 Forbidden`). */
const FORBIDDEN = 4403;
const closeCode = (event: unknown) => (event as { code?: number } | null)?.code;

const KEY_STORAGE = 'tollgate.adminKey';

export function storedKey(): string | null {
  try {
    return sessionStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

export function storeKey(key: string | null) {
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // storage disabled: the key lives only in memory for this tab
  }
}

/**
 * One urql client per admin key: queries and mutations over HTTP POST /graphql with the key as a
 * Bearer header; subscriptions over graphql-ws on the same origin with the key in connection_init.
 * The socket reconnects by itself; `onConnection` reports its state for the banner.
 */
export function createConsoleClient(adminKey: string, onConnection: (s: ConnectionState) => void) {
  const origin = window.location.origin;
  const wsUrl = `${origin.replace(/^http/, 'ws')}/graphql`;
  // A disposed client (sign-out, a new key) must not report its own closing as a lost connection.
  let disposed = false;
  const report = (s: ConnectionState) => {
    if (!disposed) onConnection(s);
  };
  const ws = createWsClient({
    url: wsUrl,
    connectionParams: { authorization: `Bearer ${adminKey}` },
    lazy: false,
    keepAlive: 10_000,
    retryAttempts: Number.POSITIVE_INFINITY,
    // Retried on anything but a refused key (revoked or expired meanwhile): that one signs out.
    shouldRetry: (event) => closeCode(event) !== FORBIDDEN,
    retryWait: async (retries) => {
      await new Promise((r) => setTimeout(r, Math.min(500 * 2 ** retries, 5_000)));
    },
    on: {
      connecting: () => report('connecting'),
      connected: () => report('connected'),
      closed: (event) => {
        const e = event as { code?: number; reason?: string };
        if (!disposed) console.info(`live connection closed (${e.code ?? '?'} ${e.reason ?? ''})`);
        report(e.code === FORBIDDEN ? 'refused' : 'lost');
      },
    },
  });
  const client = new Client({
    url: `${origin}/graphql`,
    requestPolicy: 'cache-and-network',
    fetchOptions: () => ({ headers: { authorization: `Bearer ${adminKey}` } }),
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({
            unsubscribe: ws.subscribe({ ...request, query: request.query ?? '' }, sink),
          }),
        }),
      }),
    ],
  });
  return {
    client,
    dispose: () => {
      disposed = true;
      return ws.dispose();
    },
  };
}
