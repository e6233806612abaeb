import { GraphQLError, Kind, valueFromASTUntyped } from 'graphql';
import { builder } from '../builder.ts';

/** RFC 3339 date-time with an explicit offset, as the services accept it. */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

function parseDateTime(value: unknown): Date {
  const date = typeof value === 'string' && ISO_DATE_TIME.test(value) ? new Date(value) : null;
  if (!date || Number.isNaN(date.getTime())) {
    throw new GraphQLError(
      'DateTime must be an ISO 8601 date-time with offset, e.g. 2026-04-01T00:00:00Z',
    );
  }
  return date;
}

export const DateTime = builder.scalarType('DateTime', {
  description: 'ISO 8601 date-time; always UTC (`…Z`) on output.',
  serialize: (date) => date.toISOString(),
  parseValue: parseDateTime,
  parseLiteral: (node) => parseDateTime(node.kind === Kind.STRING ? node.value : null),
});

export const JSONScalar = builder.scalarType('JSON', {
  description: 'Any JSON value (sub-account metadata is a JSON object).',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (node, variables) => valueFromASTUntyped(node, variables ?? undefined),
});

/** Same values as the REST façade (`monthly`, …), so both APIs speak one vocabulary. */
export const BudgetPeriod = builder.enumType('BudgetPeriod', {
  description: 'Period of a cap; counters reset at the start of each period (UTC).',
  values: ['monthly', 'daily', 'weekly', 'total'] as const,
});

export const SubAccountStatus = builder.enumType('SubAccountStatus', {
  values: ['active', 'suspended', 'deleted'] as const,
});

/** Sub-accounts can be set `active` or `suspended`; `deleted` only comes from deleteSubAccount. */
export const SettableSubAccountStatus = builder.enumType('SettableSubAccountStatus', {
  values: ['active', 'suspended'] as const,
});
