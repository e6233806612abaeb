import net from 'node:net';

export interface TcpForwarder {
  port: number;
  /** A URL of the target (a database URL, say) rewritten to go through the forwarder. */
  route(url: string): string;
  listening(): boolean;
  /** Its open connections closed (as when the far side closes them); new ones still accepted. */
  dropConnections(): void;
  /** Open and new connections stay up but carry nothing (a server that stops answering), until
   * `answer()`, which drops them so the client reconnects. */
  hang(): void;
  answer(): void;
  /** Connections reset and the port closed (refused from then on), as when the server goes away. */
  cut(): Promise<void>;
  /** Listens again on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A TCP forwarder on 127.0.0.1 in front of a real server (PostgreSQL, Redis) that a test can cut,
 * make hang and restore — the network failing, not the server, so the shared server stays up for
 * every other test. `port` 0: any free port (kept across `cut()`/`restore()`).
 */
export async function startTcpForwarder(
  target: { host?: string; port: number },
  port = 0,
): Promise<TcpForwarder> {
  const sockets = new Set<net.Socket>();
  let hanging = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host ?? '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
      if (hanging) s.pause();
    }
    if (!hanging) client.pipe(upstream).pipe(client);
  });
  const listen = (at: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(at, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  const bound = await listen(port);
  const dropConnections = () => {
    for (const s of sockets) s.destroy();
  };
  return {
    port: bound,
    route: (url) => {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(bound);
      return u.toString();
    },
    listening: () => server.listening,
    dropConnections,
    hang: () => {
      hanging = true;
      for (const s of sockets) {
        s.unpipe();
        s.pause();
      }
    },
    answer: () => {
      hanging = false;
      dropConnections();
    },
    cut: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.resetAndDestroy();
      await closed;
    },
    restore: async () => {
      await listen(bound);
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
