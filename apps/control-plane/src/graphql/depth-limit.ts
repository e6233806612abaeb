import {
  type ASTVisitor,
  type FragmentDefinitionNode,
  GraphQLError,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

/**
 * Refuses operations nested deeper than `maxDepth` fields (400, before anything runs), so one
 * request cannot fan out through relations without bound. Introspection (`__schema`, `__type`)
 * is measured on its own, looser limit: the standard introspection query nests `ofType` deeply.
 * Fragments are followed (each measured once); cycles are left to NoFragmentCyclesRule.
 */
export function depthLimit(maxDepth: number, maxIntrospectionDepth = 20): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const definition of context.getDocument().definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION)
        fragments.set(definition.name.value, definition);
    }
    const fragmentDepth = new Map<string, number>();
    let introspectionDepth = 0;

    const depthOf = (set: SelectionSetNode, visiting: Set<string>): number => {
      let max = 0;
      for (const selection of set.selections) {
        if (selection.kind === Kind.FIELD) {
          const below = selection.selectionSet ? depthOf(selection.selectionSet, visiting) : 0;
          if (selection.name.value.startsWith('__')) {
            introspectionDepth = Math.max(introspectionDepth, 1 + below);
          } else {
            max = Math.max(max, 1 + below);
          }
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          max = Math.max(max, depthOf(selection.selectionSet, visiting));
        } else {
          const name = selection.name.value;
          const fragment = fragments.get(name);
          if (!fragment || visiting.has(name)) continue;
          let depth = fragmentDepth.get(name);
          if (depth === undefined) {
            visiting.add(name);
            depth = depthOf(fragment.selectionSet, visiting);
            visiting.delete(name);
            fragmentDepth.set(name, depth);
          }
          max = Math.max(max, depth);
        }
      }
      return max;
    };

    const refuse = (message: string, node: OperationDefinitionNode) =>
      new GraphQLError(message, {
        nodes: [node],
        // `spec: false`: answer 400 whatever the response media type (yoga answers spec-level
        // validation errors 200 under `application/json`).
        extensions: { code: 'GRAPHQL_VALIDATION_FAILED', http: { status: 400, spec: false } },
      });

    return {
      OperationDefinition(node) {
        introspectionDepth = 0;
        fragmentDepth.clear();
        const depth = depthOf(node.selectionSet, new Set());
        if (depth > maxDepth) {
          context.reportError(
            refuse(`query depth ${depth} exceeds the maximum of ${maxDepth}`, node),
          );
        }
        if (introspectionDepth > maxIntrospectionDepth) {
          context.reportError(
            refuse(
              `introspection depth ${introspectionDepth} exceeds the maximum of ${maxIntrospectionDepth}`,
              node,
            ),
          );
        }
      },
    };
  };
}
