import {
  type ASTVisitor,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

export interface OperationLimits {
  /** Aliased fields per operation (alias fan-out of one expensive field). */
  maxAliases: number;
  /** Field selections per operation, fragments expanded. */
  maxFields: number;
  /** Estimated cost: each field 1, a field's children multiplied by its `first` (pages). */
  maxCost: number;
}

export const DEFAULT_LIMITS: OperationLimits = { maxAliases: 30, maxFields: 500, maxCost: 20_000 };
/** A page size given by a variable is not known at validation: assume the largest page. */
const MAX_PAGE = 200;

function pageFactor(field: FieldNode): number {
  const first = field.arguments?.find((a) => a.name.value === 'first');
  if (first === undefined) return 1;
  if (first.value.kind === Kind.INT)
    return Math.max(1, Math.min(Number(first.value.value), MAX_PAGE));
  return MAX_PAGE;
}

/**
 * Refuses (400, before anything runs) operations that alias one field many times, select too many
 * fields, or whose estimated cost — pages multiplied through the nesting — is too high. Introspection
 * fields are not counted (the depth limit bounds them). Errors carry `extensions.code`
 * `QUERY_TOO_COMPLEX` and name the limit, so a client (or a persisted operation) knows what to cut.
 */
export function operationLimits(limits: OperationLimits = DEFAULT_LIMITS): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const d of context.getDocument().definitions) {
      if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
    }
    const refuse = (message: string, node: OperationDefinitionNode) =>
      context.reportError(
        new GraphQLError(message, {
          nodes: [node],
          extensions: { code: 'QUERY_TOO_COMPLEX', http: { status: 400, spec: false } },
        }),
      );
    return {
      OperationDefinition(node) {
        let aliases = 0;
        let fields = 0;
        // Walks with the fragments expanded; a fragment cycle is left to NoFragmentCyclesRule.
        const walk = (set: SelectionSetNode, visiting: Set<string>): number => {
          let cost = 0;
          for (const s of set.selections) {
            if (fields > limits.maxFields) return cost;
            if (s.kind === Kind.FIELD) {
              if (s.name.value.startsWith('__')) continue;
              fields++;
              if (s.alias !== undefined) aliases++;
              const below = s.selectionSet ? walk(s.selectionSet, visiting) : 0;
              cost += 1 + pageFactor(s) * below;
            } else if (s.kind === Kind.INLINE_FRAGMENT) {
              cost += walk(s.selectionSet, visiting);
            } else {
              const name = s.name.value;
              const f = fragments.get(name);
              if (f === undefined || visiting.has(name)) continue;
              visiting.add(name);
              cost += walk(f.selectionSet, visiting);
              visiting.delete(name);
            }
          }
          return cost;
        };
        const cost = walk(node.selectionSet, new Set());
        if (fields > limits.maxFields) {
          refuse(`the operation selects more than ${limits.maxFields} fields`, node);
        } else if (aliases > limits.maxAliases) {
          refuse(`the operation uses ${aliases} aliases; at most ${limits.maxAliases}`, node);
        } else if (cost > limits.maxCost) {
          refuse(`the operation's estimated cost ${cost} exceeds ${limits.maxCost}`, node);
        }
      },
    };
  };
}
