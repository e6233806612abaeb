import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  type DocumentNode,
  GraphQLError,
  type GraphQLSchema,
  parse,
  specifiedRules,
  validate,
} from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Principal } from '../lib/authz.ts';
import { loopbackClientAddress } from '../lib/client-address.ts';
import type { RestDeps } from '../rest/router.ts';
import { retiredAdminKeys } from '../services/admin-keys.ts';
import type { GraphQLContext } from './context.ts';
import { MAX_QUERY_CHARS, MAX_QUERY_DEPTH, MAX_QUERY_TOKENS } from './index.ts';
import {
  DEFAULT_COUNT_LIMITS,
  MAX_INTROSPECTION_DEPTH,
  operationLimits,
} from './operation-limits.ts';

/** Subscription messages are small documents; larger frames close the socket. */
const MAX_FRAME_BYTES = 64 * 1024;

/** How often open sockets' admin keys are checked again: a key revoked on any control plane stops
 * its live feeds within this time. */
export const KEY_RECHECK_MS = 2_000;

export interface GraphQLWsServer {
  /** Closes every socket (their subscriptions end) and stops accepting upgrades. */
  close(): Promise<void>;
}

/**
 * GraphQL subscriptions over graphql-ws on the control plane's own HTTP server, at `/graphql`
 * (the same path as queries over HTTP). The admin key goes in `connection_init`:
 * `{ "authorization": "Bearer sk-tg-admin-…" }` (browsers cannot set headers on a WebSocket).
 * A missing or refused key closes the socket with 4403 Forbidden before any subscription runs;
 * every subscription then goes through the same `authorize()` as queries and only ever sees the
 * key's own workspace. A socket whose key is revoked later is closed with 4403 too.
 */
export function attachGraphQLWs(
  server: Server,
  deps: RestDeps,
  schema: GraphQLSchema,
): GraphQLWsServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  const principals = new WeakMap<object, Principal>();
  // The same limits as over HTTP (a socket also takes queries and mutations); the frame size bounds
  // the document's length.
  const rules = [
    ...specifiedRules,
    operationLimits({
      maxDepth: MAX_QUERY_DEPTH,
      maxIntrospectionDepth: MAX_INTROSPECTION_DEPTH,
      counts: DEFAULT_COUNT_LIMITS,
    }),
  ];
  const disposable = useServer<Record<string, unknown> | undefined>(
    {
      schema,
      // Parsed and validated here rather than by graphql-ws: a document that does not parse (or is
      // too long) is answered as an error of that one operation, as over HTTP, instead of closing
      // the socket and every other subscription on it.
      onSubscribe: (_ctx, _id, payload) => {
        const refuse = (message: string, code: string) => [
          new GraphQLError(message, { extensions: { code } }),
        ];
        if (payload.query.length > MAX_QUERY_CHARS) {
          return refuse(`the query exceeds ${MAX_QUERY_CHARS} characters`, 'QUERY_TOO_LARGE');
        }
        let document: DocumentNode;
        try {
          document = parse(payload.query, { maxTokens: MAX_QUERY_TOKENS });
        } catch (err) {
          if (!(err instanceof GraphQLError)) throw err;
          return refuse(err.message, 'GRAPHQL_PARSE_FAILED');
        }
        const errors = validate(schema, document, rules);
        if (errors.length > 0) return errors;
        return {
          schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
        };
      },
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        const authorization = params.authorization ?? params.Authorization;
        try {
          const principal = await deps.authenticator.authenticate(
            typeof authorization === 'string' ? authorization : null,
            (deps.clientAddress ?? loopbackClientAddress)(ctx.extra.request),
          );
          if (principal.kind !== 'admin') return false;
          principals.set(ctx.extra.socket, principal);
          return true;
        } catch {
          return false;
        }
      },
      context: (ctx): GraphQLContext => ({
        deps,
        principal: principals.get(ctx.extra.socket) ?? { kind: 'anonymous' },
      }),
    },
    wss,
    12_000,
  );
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    if (pathname !== '/graphql') {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  };
  server.on('upgrade', onUpgrade);
  // One query per sweep, only while sockets are open; a sweep that fails (database away) closes
  // nothing and the next one tries again.
  let sweeping = false;
  const sweep = async () => {
    const byKey = new Map<string, WebSocket[]>();
    for (const client of wss.clients) {
      const principal = principals.get(client);
      if (principal?.kind !== 'admin') continue;
      const same = byKey.get(principal.keyId);
      if (same === undefined) byKey.set(principal.keyId, [client]);
      else same.push(client);
    }
    if (byKey.size === 0) return;
    const retired = await retiredAdminKeys(deps, [...byKey.keys()]);
    for (const id of retired) {
      for (const client of byKey.get(id) ?? []) client.close(4403, 'Forbidden');
    }
  };
  const recheck = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    sweep()
      .catch(() => undefined)
      .finally(() => {
        sweeping = false;
      });
  }, KEY_RECHECK_MS);
  recheck.unref();
  return {
    async close() {
      clearInterval(recheck);
      server.off('upgrade', onUpgrade);
      for (const client of wss.clients) client.close(1001, 'Going away');
      await disposable.dispose();
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
