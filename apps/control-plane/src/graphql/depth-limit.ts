import type { ValidationRule } from 'graphql';
import { MAX_INTROSPECTION_DEPTH, operationLimits } from './operation-limits.ts';

/**
 * The depth limits alone, nothing counted (graphql-ws): refuses operations nested deeper than
 * `maxDepth` data fields, or `maxIntrospectionDepth` below `__schema` / `__type`, with 400
 * `GRAPHQL_VALIDATION_FAILED` before anything runs. The walk is operationLimits'.
 */
export function depthLimit(
  maxDepth: number,
  maxIntrospectionDepth = MAX_INTROSPECTION_DEPTH,
): ValidationRule {
  return operationLimits({ maxDepth, maxIntrospectionDepth });
}
