import SchemaBuilder from '@pothos/core';
import ErrorsPlugin from '@pothos/plugin-errors';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import type PrismaTypes from '../generated/pothos-types.ts';
import { getDatamodel } from '../generated/pothos-types.ts';
import type { GraphQLContext } from './context.ts';

/**
 * The one Pothos builder. It only builds: types, queries and mutations live in `types/`, one file
 * per domain. Fields are non-null unless they say otherwise. Errors come before Prisma in the
 * plugin list so `errors` works on Prisma fields too (plugin-errors' documented order).
 */
export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  PrismaTypes: PrismaTypes;
  DefaultFieldNullability: false;
  DefaultEdgesNullability: { list: false; items: false };
  DefaultNodeNullability: false;
  Scalars: {
    ID: { Input: string; Output: string };
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
  };
}>({
  plugins: [ErrorsPlugin, PrismaPlugin, RelayPlugin],
  defaultFieldNullability: false,
  errors: {
    // Mutations answer `Payload | ValidationError | …` rather than a `…Success { data }` wrapper.
    directResult: true,
  },
  prisma: {
    // The client comes with each request's deps: the schema is built once at import time,
    // before any database exists (e.g. when printing the SDL).
    client: (ctx) => ctx.deps.prisma,
    dmmf: getDatamodel(),
    exposeDescriptions: false,
    filterConnectionTotalCount: true,
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    // Ids are the API's own (`sa_…`), not Relay global ids: no `node`/`nodes` root fields.
    nodeQueryOptions: false,
    nodesQueryOptions: false,
    edgesFieldOptions: { nullable: { list: false, items: false } },
    nodeFieldOptions: { nullable: false },
  },
});

// Root types, empty here: every domain file in types/ adds its own queries and mutations.
builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
