import {
  type ASTVisitor,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  Kind,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

export interface CountLimits {
  /** Aliased fields per operation (alias fan-out of one expensive field). */
  maxAliases: number;
  /** Field selections per operation, fragments expanded. */
  maxFields: number;
  /** Estimated cost: each field 1, a field's children multiplied by its `first` (pages; without
   * `first`, a connection's default page, DEFAULT_PAGE_ESTIMATE). */
  maxCost: number;
}

export interface OperationLimits {
  /** Nesting of data fields (`GRAPHQL_VALIDATION_FAILED` beyond). */
  maxDepth: number;
  /** Nesting below an introspection field: the standard introspection query nests `ofType` deeply. */
  maxIntrospectionDepth: number;
  /** Aliases, fields and cost (`QUERY_TOO_COMPLEX` beyond); absent: not counted at all. */
  counts?: CountLimits;
}

/** The standard introspection query (`getIntrospectionQuery()`) fits, with room to spare. */
export const MAX_INTROSPECTION_DEPTH = 20;
export const DEFAULT_COUNT_LIMITS: CountLimits = {
  maxAliases: 30,
  maxFields: 500,
  maxCost: 20_000,
};
/** A page size given by a variable is not known at validation: assume the largest page. */
const MAX_PAGE = 200;
/**
 * Walks of fragments that sit on a spread cycle, per operation, before the operation is refused.
 * Only such fragments are walked again at each spread (their expansion depends on the path that
 * reached them); any other fragment is counted once and its figures reused.
 */
export const MAX_CYCLIC_EXPANSIONS = 10_000;

/** A connection asked for without `first` answers its default page: the largest default of any
 * list in the schema (`webhookDeliveries`: 100; the others 50). */
export const DEFAULT_PAGE_ESTIMATE = 100;

/** Whether a selection asks for a connection's `edges` (directly, or in a fragment at its top). */
function selectsEdges(set: SelectionSetNode, fragments: Fragments, seen = new Set<string>()) {
  for (const s of set.selections) {
    if (s.kind === Kind.FIELD) {
      if (s.name.value === 'edges') return true;
    } else if (s.kind === Kind.INLINE_FRAGMENT) {
      if (selectsEdges(s.selectionSet, fragments, seen)) return true;
    } else if (!seen.has(s.name.value)) {
      seen.add(s.name.value);
      const fragment = fragments.get(s.name.value);
      if (fragment !== undefined && selectsEdges(fragment.selectionSet, fragments, seen))
        return true;
    }
  }
  return false;
}

function pageFactor(field: FieldNode, isConnection: (field: FieldNode) => boolean): number {
  const first = field.arguments?.find((a) => a.name.value === 'first');
  if (first === undefined) return isConnection(field) ? DEFAULT_PAGE_ESTIMATE : 1;
  if (first.value.kind === Kind.INT)
    return Math.max(1, Math.min(Number(first.value.value), MAX_PAGE));
  return MAX_PAGE;
}

interface Figures {
  depth: number;
  cost: number;
}
const NOTHING: Figures = { depth: 0, cost: 0 };
type Fragments = ReadonlyMap<string, FragmentDefinitionNode>;

/**
 * One walk of an operation, fragments expanded, measuring at once what the limits need: depth of
 * data fields, depth below introspection fields, fields, aliases and estimated cost.
 *
 * What must hold (these are the figures clients have always been refused with):
 * - Depth: a fragment's depth is measured the first time it is met and reused after; an
 *   introspection field (`__…`) does not count towards the data depth, its subtree sets the
 *   introspection depth instead.
 * - Counts: every spread counts its fragment again; introspection subtrees are not counted;
 *   counting stops for good once the field limit is passed (the answer is then that refusal).
 * - A fragment already on the current path is skipped (cycles are NoFragmentCyclesRule's error).
 * `depth` / `count` say whether a subtree is measured for depth / counted: a spread of a fragment
 * whose depth is known is walked for its counts only, and nothing is walked twice for depth.
 *
 * Cost of the walk: a fragment on no spread cycle expands the same wherever it is spread, so its
 * counts are measured once and added at each further spread (walking it again at every spread is
 * exponential in nested spreads: 40 fragments each spreading the next twice). A fragment on a
 * cycle expands differently along different paths: it is walked again each time, at most
 * MAX_CYCLIC_EXPANSIONS times, then the operation is refused.
 */
class OperationWalk {
  fields = 0;
  aliases = 0;
  introspectionDepth = 0;
  cyclicExpansions = 0;
  private readonly visiting = new Set<string>();
  private readonly fragmentDepth = new Map<string, number>();
  private readonly fragmentCounts = new Map<
    string,
    { fields: number; aliases: number; cost: number }
  >();

  /** Per field node (fields of fragments are met again at every spread). */
  private readonly connections = new Map<FieldNode, boolean>();
  private readonly isConnection = (field: FieldNode): boolean => {
    let known = this.connections.get(field);
    if (known === undefined) {
      known = field.selectionSet !== undefined && selectsEdges(field.selectionSet, this.fragments);
      this.connections.set(field, known);
    }
    return known;
  };

  constructor(
    private readonly fragments: Fragments,
    private readonly onCycle: () => ReadonlySet<string>,
    private readonly maxFields: number,
  ) {}

  counting(): boolean {
    return this.fields <= this.maxFields && this.cyclicExpansions <= MAX_CYCLIC_EXPANSIONS;
  }

  walk(set: SelectionSetNode, depth: boolean, count: boolean): Figures {
    let deepest = 0;
    let cost = 0;
    for (const selection of set.selections) {
      const counted = count && this.counting();
      if (!depth && !counted) break;
      const below =
        selection.kind === Kind.FIELD
          ? this.field(selection, depth, counted)
          : selection.kind === Kind.INLINE_FRAGMENT
            ? this.walk(selection.selectionSet, depth, counted)
            : this.spread(selection.name.value, depth, counted);
      deepest = Math.max(deepest, below.depth);
      cost += below.cost;
    }
    return { depth: deepest, cost };
  }

  private field(field: FieldNode, depth: boolean, counted: boolean): Figures {
    if (field.name.value.startsWith('__')) {
      if (depth) {
        const below = field.selectionSet ? this.walk(field.selectionSet, true, false).depth : 0;
        this.introspectionDepth = Math.max(this.introspectionDepth, 1 + below);
      }
      return NOTHING;
    }
    if (counted) {
      this.fields++;
      if (field.alias !== undefined) this.aliases++;
    }
    const below = field.selectionSet ? this.walk(field.selectionSet, depth, counted) : NOTHING;
    const cost = counted ? 1 + pageFactor(field, this.isConnection) * below.cost : 0;
    return { depth: 1 + below.depth, cost };
  }

  private spread(name: string, depth: boolean, counted: boolean): Figures {
    const fragment = this.fragments.get(name);
    if (fragment === undefined || this.visiting.has(name)) return NOTHING;
    const known = this.fragmentDepth.get(name);
    if (depth && known === undefined) {
      const figures = this.enter(name, fragment, true, counted);
      this.fragmentDepth.set(name, figures.depth);
      return figures;
    }
    return { depth: depth ? (known ?? 0) : 0, cost: counted ? this.countOnly(name, fragment) : 0 };
  }

  /** Counts a fragment's fields and aliases (into the totals) and answers its cost. */
  private countOnly(name: string, fragment: FragmentDefinitionNode): number {
    const cyclic = this.onCycle().has(name);
    const known = cyclic ? undefined : this.fragmentCounts.get(name);
    if (known !== undefined) {
      this.fields += known.fields;
      this.aliases += known.aliases;
      return known.cost;
    }
    if (cyclic) this.cyclicExpansions++;
    const [fields, aliases] = [this.fields, this.aliases];
    const cost = this.enter(name, fragment, false, true).cost;
    // Counting only ever stops for good: still on, the figures are whole and can be reused.
    if (!cyclic && this.counting()) {
      this.fragmentCounts.set(name, {
        fields: this.fields - fields,
        aliases: this.aliases - aliases,
        cost,
      });
    }
    return cost;
  }

  private enter(name: string, fragment: FragmentDefinitionNode, depth: boolean, count: boolean) {
    this.visiting.add(name);
    try {
      return this.walk(fragment.selectionSet, depth, count);
    } finally {
      this.visiting.delete(name);
    }
  }
}

function spreadsIn(set: SelectionSetNode, into: string[] = []): string[] {
  for (const selection of set.selections) {
    if (selection.kind === Kind.FRAGMENT_SPREAD) into.push(selection.name.value);
    else if (selection.selectionSet) spreadsIn(selection.selectionSet, into);
  }
  return into;
}

/**
 * Fragments that reach themselves through spreads: the strongly connected components (Tarjan) with
 * more than one fragment, or one that spreads itself.
 */
function fragmentsOnCycles(fragments: Fragments): Set<string> {
  const edges = new Map<string, string[]>();
  for (const [name, f] of fragments) {
    edges.set(
      name,
      spreadsIn(f.selectionSet).filter((to) => fragments.has(to)),
    );
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const stacked = new Set<string>();
  const onCycle = new Set<string>();
  const visit = (from: string): void => {
    const order = index.size;
    index.set(from, order);
    low.set(from, order);
    stack.push(from);
    stacked.add(from);
    for (const to of edges.get(from) ?? []) {
      if (!index.has(to)) visit(to);
      if (stacked.has(to)) low.set(from, Math.min(low.get(from)!, low.get(to)!));
    }
    if (low.get(from) !== order) return;
    const component = stack.splice(stack.lastIndexOf(from));
    for (const name of component) stacked.delete(name);
    if (component.length > 1 || edges.get(from)?.includes(from)) {
      for (const name of component) onCycle.add(name);
    }
  };
  for (const name of fragments.keys()) if (!index.has(name)) visit(name);
  return onCycle;
}

/**
 * Refuses (400, before anything runs) operations nested deeper than `maxDepth` data fields or
 * `maxIntrospectionDepth` below an introspection field (`GRAPHQL_VALIDATION_FAILED`), and — with
 * `counts` — operations that alias one field many times, select too many fields, or whose estimated
 * cost (pages multiplied through the nesting) is too high (`QUERY_TOO_COMPLEX`, naming the limit so
 * a client knows what to cut). One walk measures all of it; see OperationWalk.
 */
export function operationLimits(limits: OperationLimits): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const d of context.getDocument().definitions) {
      if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
    }
    let onCycle: Set<string> | undefined;
    const cyclic = () => {
      onCycle ??= fragmentsOnCycles(fragments);
      return onCycle;
    };
    return {
      OperationDefinition(node) {
        const counts = limits.counts;
        const walk = new OperationWalk(fragments, cyclic, counts?.maxFields ?? 0);
        const { depth, cost } = walk.walk(node.selectionSet, true, counts !== undefined);
        const refuse = (message: string, code: string) =>
          context.reportError(
            new GraphQLError(message, {
              nodes: [node],
              // `spec: false`: answer 400 whatever the response media type (yoga answers
              // spec-level validation errors 200 under `application/json`).
              extensions: { code, http: { status: 400, spec: false } },
            }),
          );
        const invalid = 'GRAPHQL_VALIDATION_FAILED';
        if (depth > limits.maxDepth)
          refuse(`query depth ${depth} exceeds the maximum of ${limits.maxDepth}`, invalid);
        if (walk.introspectionDepth > limits.maxIntrospectionDepth) {
          refuse(
            `introspection depth ${walk.introspectionDepth} exceeds the maximum of ${limits.maxIntrospectionDepth}`,
            invalid,
          );
        }
        if (counts === undefined) return;
        const complex = 'QUERY_TOO_COMPLEX';
        if (walk.fields > counts.maxFields) {
          refuse(`the operation selects more than ${counts.maxFields} fields`, complex);
        } else if (walk.cyclicExpansions > MAX_CYCLIC_EXPANSIONS) {
          refuse(
            `the operation expands fragments more than ${MAX_CYCLIC_EXPANSIONS} times`,
            complex,
          );
        } else if (walk.aliases > counts.maxAliases) {
          refuse(
            `the operation uses ${walk.aliases} aliases; at most ${counts.maxAliases}`,
            complex,
          );
        } else if (cost > counts.maxCost) {
          refuse(`the operation's estimated cost ${cost} exceeds ${counts.maxCost}`, complex);
        }
      },
    };
  };
}
