import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GraphQLSchema } from 'graphql';
import { GraphQLError, parse } from 'graphql';
import { createYoga, maskError, type Plugin } from 'graphql-yoga';
import { loopbackClientAddress } from '../lib/client-address.ts';
import {
  DATABASE_RETRY_AFTER_SECONDS,
  DATABASE_UNAVAILABLE_MESSAGE,
  isDatabaseUnavailable,
} from '../lib/db-errors.ts';
import { AuthenticationError, TooManyAttemptsError } from '../lib/errors.ts';
import type { RestDeps } from '../rest/router.ts';
import type { GraphQLContext } from './context.ts';
import {
  DEFAULT_COUNT_LIMITS,
  MAX_INTROSPECTION_DEPTH,
  operationLimits,
} from './operation-limits.ts';
import { schema } from './schema.ts';

/** Deeper selections are refused with 400 before execution. */
export const MAX_QUERY_DEPTH = 10;
/** GraphQL documents and variables are small; larger bodies are refused unread. */
const MAX_BODY_BYTES = 1024 * 1024;
/** Longest query text, and most lexical tokens in it (parsing stops there). */
export const MAX_QUERY_CHARS = 32 * 1024;
export const MAX_QUERY_TOKENS = 5_000;

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

const badRequest = (message: string, code = 'BAD_REQUEST') =>
  new GraphQLError(message, { extensions: { code, http: { status: 400, spec: false } } });

/**
 * Hardened transport: a JSON POST body must be strict UTF-8 holding one operation object (no
 * batches); a document that does not parse answers 400; request errors without a code (variables
 * that do not coerce) get `BAD_USER_INPUT`. Every refusal has a stable `extensions.code`.
 */
function useStrictTransport(): Plugin {
  return {
    onRequestParse({ request, setRequestParser }) {
      if (request.method !== 'POST') return;
      if (
        !/^application\/(graphql-response\+)?json\b/i.test(
          request.headers.get('content-type') ?? '',
        )
      )
        return;
      setRequestParser(async (req) => {
        let parsed: unknown;
        try {
          const text = new TextDecoder('utf-8', { fatal: true }).decode(await req.arrayBuffer());
          parsed = JSON.parse(text);
        } catch {
          throw badRequest('the request body is not valid UTF-8 JSON');
        }
        if (Array.isArray(parsed)) throw badRequest('batched operations are not accepted');
        if (typeof parsed !== 'object' || parsed === null)
          throw badRequest('the request body must be a JSON object');
        return parsed as Record<string, never>;
      });
    },
    onExecutionResult({ result, setResult }) {
      if (result === undefined || !('errors' in result) || result.errors === undefined) return;
      if ('data' in result) return;
      const errors = result.errors.map((e) =>
        e.extensions?.code === undefined && e.path === undefined
          ? new GraphQLError(e.message, {
              nodes: e.nodes,
              source: e.source,
              positions: e.positions,
              extensions: { ...e.extensions, code: 'BAD_USER_INPUT' },
            })
          : e,
      );
      setResult({ ...result, errors });
    },
  };
}

/** The error a resolver (or the authentication in createContext) threw, under GraphQL's wrapping. */
function originalOf(error: unknown): unknown {
  let e = error;
  while (e instanceof GraphQLError && e.originalError) e = e.originalError;
  return e;
}

/**
 * yoga's masking, except for an unreachable database: that becomes `DATABASE_UNAVAILABLE`, answered
 * 503 with Retry-After like the REST façade, so clients and load balancers retry.
 */
const maskUnexpected: typeof maskError = (error, message, isDev) => {
  if (!isDatabaseUnavailable(originalOf(error))) return maskError(error, message, isDev);
  const at = error instanceof GraphQLError ? error : undefined;
  return new GraphQLError(DATABASE_UNAVAILABLE_MESSAGE, {
    nodes: at?.nodes,
    source: at?.source,
    positions: at?.positions,
    path: at?.path,
    extensions: {
      code: 'DATABASE_UNAVAILABLE',
      http: { status: 503, headers: { 'retry-after': String(DATABASE_RETRY_AFTER_SECONDS) } },
    },
  });
};

/** Document size and shape limits: query length and tokens before parsing; depth, aliases, field
 * count and estimated cost before execution (one walk of the operation). Each refusal is a 400
 * with a stable `extensions.code`. */
function useOperationLimits(): Plugin {
  return {
    onParams({ params }) {
      if (typeof params.query === 'string' && params.query.length > MAX_QUERY_CHARS) {
        throw new GraphQLError(`the query exceeds ${MAX_QUERY_CHARS} characters`, {
          extensions: { code: 'QUERY_TOO_LARGE', http: { status: 400, spec: false } },
        });
      }
      // Parsed here once with a token bound (yoga parses again from its cache): a document that
      // does not parse is the client's error, 400 whatever the response media type.
      if (typeof params.query === 'string') {
        try {
          parse(params.query, { maxTokens: MAX_QUERY_TOKENS });
        } catch (err) {
          if (!(err instanceof GraphQLError)) throw err;
          throw new GraphQLError(err.message, {
            source: err.source,
            positions: err.positions,
            extensions: { code: 'GRAPHQL_PARSE_FAILED', http: { status: 400, spec: false } },
          });
        }
      }
    },
    onValidate: ({ addValidationRule }) =>
      addValidationRule(
        operationLimits({
          maxDepth: MAX_QUERY_DEPTH,
          maxIntrospectionDepth: MAX_INTROSPECTION_DEPTH,
          counts: DEFAULT_COUNT_LIMITS,
        }),
      ),
  };
}

/** `/graphql` of the control plane: graphql-yoga over the Pothos schema, GraphiQL on GET. */
export function createGraphQLHandler(deps: RestDeps): {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  schema: GraphQLSchema;
} {
  const yoga = createYoga<ServerContext, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    // Typed results and coded GraphQLErrors pass; an unreachable database becomes
    // DATABASE_UNAVAILABLE; anything else becomes "Unexpected error." Both are logged below.
    maskedErrors: { maskError: maskUnexpected },
    graphiql: true,
    landingPage: false,
    plugins: [useStrictTransport(), useOperationLimits()],
    logging: {
      debug: () => {},
      info: () => {},
      warn: (...args) =>
        deps.log('info', 'graphql warning', { detail: args.map(String).join(' ') }),
      error: (...args) =>
        args.some((a) => isDatabaseUnavailable(originalOf(a)))
          ? deps.log('error', 'database unavailable', { error: args.map(String).join(' ') })
          : deps.log('error', 'unexpected error in GraphQL handler', {
              error: args.map((a) => String((a as Error)?.stack ?? a)).join(' '),
            }),
    },
    context: ({ request, req }) =>
      createContext(
        deps,
        request.headers.get('authorization'),
        req === undefined ? '' : (deps.clientAddress ?? loopbackClientAddress)(req),
      ),
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
