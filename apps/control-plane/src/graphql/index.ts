import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GraphQLSchema } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import { AuthenticationError, TooManyAttemptsError } from '../lib/errors.ts';
import type { RestDeps } from '../rest/router.ts';
import type { GraphQLContext } from './context.ts';
import { depthLimit } from './depth-limit.ts';
import { schema } from './schema.ts';

/** Deeper selections are refused with 400 before execution. */
export const MAX_QUERY_DEPTH = 10;
/** GraphQL documents and variables are small; larger bodies are refused unread. */
const MAX_BODY_BYTES = 1024 * 1024;

type ServerContext = { req: IncomingMessage; res: ServerResponse };

/**
 * Who is calling. A refused or throttled key does not fail the request here: the caller becomes
 * anonymous (with the reason kept), so the resolvers' one authorize() answers UNAUTHENTICATED
 * for exactly the fields that need a key.
 */
async function createContext(
  deps: RestDeps,
  authorization: string | null,
  clientId: string,
): Promise<GraphQLContext> {
  try {
    return { deps, principal: await deps.authenticator.authenticate(authorization, clientId) };
  } catch (err) {
    if (err instanceof AuthenticationError || err instanceof TooManyAttemptsError) {
      return { deps, principal: { kind: 'anonymous' }, authFailure: err };
    }
    throw err;
  }
}

function useDepthLimit(maxDepth: number): Plugin {
  return { onValidate: ({ addValidationRule }) => addValidationRule(depthLimit(maxDepth)) };
}

/** `/graphql` of the control plane: graphql-yoga over the Pothos schema, GraphiQL on GET. */
export function createGraphQLHandler(deps: RestDeps): {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  schema: GraphQLSchema;
} {
  const yoga = createYoga<ServerContext, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    // Typed results and coded GraphQLErrors pass; anything else becomes "Unexpected error." and
    // is logged below with its stack.
    maskedErrors: true,
    graphiql: true,
    landingPage: false,
    plugins: [useDepthLimit(MAX_QUERY_DEPTH)],
    logging: {
      debug: () => {},
      info: () => {},
      warn: (...args) =>
        deps.log('info', 'graphql warning', { detail: args.map(String).join(' ') }),
      error: (...args) =>
        deps.log('error', 'unexpected error in GraphQL handler', {
          error: args.map((a) => String((a as Error)?.stack ?? a)).join(' '),
        }),
    },
    context: ({ request, req }) =>
      createContext(deps, request.headers.get('authorization'), req?.socket.remoteAddress ?? ''),
  });
  return {
    schema,
    async handle(req, res) {
      if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
        res.writeHead(413, {
          'content-type': 'application/json; charset=utf-8',
          connection: 'close',
        });
        res.end(
          JSON.stringify({
            errors: [
              { message: 'request body too large', extensions: { code: 'PAYLOAD_TOO_LARGE' } },
            ],
          }),
        );
        return;
      }
      await yoga.handle(req, res, { req, res });
    },
  };
}
