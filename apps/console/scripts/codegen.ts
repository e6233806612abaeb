/**
 * Typed operations for the console, from the printed SDL (schema/schema.graphql) and the console's
 * documents (apps/console/src/graphql/*.graphql): for each operation a result type, a variables
 * type and a TypedDocumentNode, written to apps/console/src/generated/graphql.ts. Operations are
 * validated against the schema first, so a field the server lost fails `pnpm generate`.
 * Run by scripts/generate.sh.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildSchema,
  type FieldNode,
  type GraphQLCompositeType,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLOutputType,
  type GraphQLSchema,
  isAbstractType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  Kind,
  type OperationDefinitionNode,
  parse,
  print,
  type SelectionSetNode,
  typeFromAST,
  validate,
  visit,
} from 'graphql';

const root = join(import.meta.dirname, '..', '..', '..');
const schemaSource = readFileSync(join(root, 'schema', 'schema.graphql'), 'utf8');
const schema = buildSchema(schemaSource);
const docsDir = join(root, 'apps', 'console', 'src', 'graphql');
const outFile = join(root, 'apps', 'console', 'src', 'generated', 'graphql.ts');

const SCALARS: Record<string, string> = {
  ID: 'string',
  String: 'string',
  Int: 'number',
  Float: 'number',
  Boolean: 'boolean',
  DateTime: 'string',
  JSON: 'unknown',
};

function scalarTs(type: GraphQLNamedType): string {
  if (isEnumType(type)) return type.name;
  const ts = SCALARS[type.name];
  if (!ts) throw new Error(`no TypeScript type for scalar ${type.name}`);
  return ts;
}

const usedEnums = new Set<string>();
const usedInputs = new Set<string>();

function inputTs(type: GraphQLInputType, nullable = true): string {
  if (isNonNullType(type)) return inputTs(type.ofType as GraphQLInputType, false);
  let inner: string;
  if (isListType(type)) inner = `Array<${inputTs(type.ofType as GraphQLInputType)}>`;
  else if (isInputObjectType(type)) {
    usedInputs.add(type.name);
    inner = type.name;
  } else {
    if (isEnumType(type)) usedEnums.add(type.name);
    inner = scalarTs(type);
  }
  return nullable ? `${inner} | null` : inner;
}

function indent(text: string, by = '  ') {
  return text
    .split('\n')
    .map((l) => (l ? by + l : l))
    .join('\n');
}

function outputTs(type: GraphQLOutputType, selection: SelectionSetNode | undefined): string {
  if (isNonNullType(type)) return wrapOut(type.ofType, selection, false);
  return wrapOut(type, selection, true);
}

function wrapOut(
  type: GraphQLOutputType,
  selection: SelectionSetNode | undefined,
  nullable: boolean,
) {
  let inner: string;
  if (isNonNullType(type)) inner = outputTs(type, selection);
  else if (isListType(type)) inner = `Array<${outputTs(type.ofType, selection)}>`;
  else if (isScalarType(type) || isEnumType(type)) {
    if (isEnumType(type)) usedEnums.add(type.name);
    inner = scalarTs(type);
  } else {
    if (!selection) throw new Error(`${type.name} needs a selection`);
    inner = selectionTs(type as GraphQLCompositeType, selection);
  }
  return nullable ? `${inner} | null` : inner;
}

/** Fields selected on `concrete` (an object type), flattening inline fragments that apply to it. */
function fieldsFor(
  schemaRef: GraphQLSchema,
  concrete: GraphQLCompositeType,
  selection: SelectionSetNode,
  out: FieldNode[] = [],
): FieldNode[] {
  for (const sel of selection.selections) {
    if (sel.kind === Kind.FIELD) out.push(sel);
    else if (sel.kind === Kind.INLINE_FRAGMENT) {
      const cond = sel.typeCondition
        ? (schemaRef.getType(sel.typeCondition.name.value) as GraphQLCompositeType)
        : concrete;
      const applies =
        cond.name === concrete.name ||
        (isAbstractType(cond) && isObjectType(concrete) && schemaRef.isSubType(cond, concrete));
      if (applies) fieldsFor(schemaRef, concrete, sel.selectionSet, out);
    } else throw new Error('named fragments are not supported; use inline fragments');
  }
  return out;
}

function objectTs(type: GraphQLCompositeType, selection: SelectionSetNode, typename: boolean) {
  const seen = new Map<string, string>();
  if (typename) seen.set('__typename', `'${type.name}'`);
  for (const field of fieldsFor(schema, type, selection)) {
    const key = field.alias?.value ?? field.name.value;
    if (field.name.value === '__typename') {
      seen.set(key, `'${type.name}'`);
      continue;
    }
    if (!isObjectType(type) && !('getFields' in type)) continue;
    const def = (type as { getFields(): Record<string, { type: GraphQLOutputType }> }).getFields()[
      field.name.value
    ];
    if (!def) throw new Error(`${type.name}.${field.name.value} does not exist`);
    seen.set(key, outputTs(def.type, field.selectionSet));
  }
  const lines = [...seen].map(([k, v]) => `${k}: ${v};`).join('\n');
  return `{\n${indent(lines)}\n}`;
}

function selectionTs(type: GraphQLCompositeType, selection: SelectionSetNode): string {
  if (isAbstractType(type)) {
    const members = schema.getPossibleTypes(type);
    return members.map((m) => objectTs(m, selection, true)).join(' | ');
  }
  return objectTs(type, selection, false);
}

function pascal(name: string) {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

const files = readdirSync(docsDir)
  .filter((f) => f.endsWith('.graphql'))
  .sort();
const chunks: string[] = [];
for (const file of files) {
  const source = readFileSync(join(docsDir, file), 'utf8');
  const document = parse(source);
  const errors = validate(schema, document);
  if (errors.length > 0) {
    throw new Error(`${file}: ${errors.map((e) => e.message).join('; ')}`);
  }
  for (const def of document.definitions) {
    if (def.kind !== Kind.OPERATION_DEFINITION || !def.name) {
      throw new Error(`${file}: every definition must be a named operation`);
    }
    // Unions are told apart by __typename: ask for it on every nested selection, as urql does.
    const op = visit(def as OperationDefinitionNode, {
      Field(node) {
        if (!node.selectionSet) return undefined;
        if (
          node.selectionSet.selections.some(
            (s) => s.kind === Kind.FIELD && s.name.value === '__typename',
          )
        )
          return undefined;
        return {
          ...node,
          selectionSet: {
            ...node.selectionSet,
            selections: [
              { kind: Kind.FIELD, name: { kind: Kind.NAME, value: '__typename' } },
              ...node.selectionSet.selections,
            ],
          },
        };
      },
    });
    const suffix = pascal(op.operation);
    const name = `${pascal(op.name!.value)}${suffix}`;
    const rootType =
      op.operation === 'query'
        ? schema.getQueryType()
        : op.operation === 'mutation'
          ? schema.getMutationType()
          : schema.getSubscriptionType();
    if (!rootType) throw new Error(`schema has no ${op.operation} type`);
    const result = objectTs(rootType, op.selectionSet, false);
    const vars = (op.variableDefinitions ?? []).map((v) => {
      const t = typeFromAST(schema, v.type as never) as GraphQLInputType;
      const optional = !isNonNullType(t) || v.defaultValue !== undefined;
      return `${v.variable.name.value}${optional ? '?' : ''}: ${inputTs(t)};`;
    });
    chunks.push(
      `export type ${name} = ${result};\n\n` +
        `export type ${name}Variables = {${vars.length ? `\n${indent(vars.join('\n'))}\n` : ''}};\n\n` +
        `export const ${name.replace(new RegExp(`${suffix}$`), '')}${suffix}Document = gql<${name}, ${name}Variables>(\`\n${indent(print(op))}\n\`);`,
    );
  }
}

// Input objects may reference other inputs and enums: resolve them to a fixed point.
const inputDecls = new Map<string, string>();
let grew = true;
while (grew) {
  grew = false;
  for (const name of [...usedInputs]) {
    if (inputDecls.has(name)) continue;
    const type = schema.getType(name);
    if (!isInputObjectType(type)) continue;
    const fields = Object.values(type.getFields()).map((f) => {
      const optional = !isNonNullType(f.type) || f.defaultValue !== undefined;
      return `${f.name}${optional ? '?' : ''}: ${inputTs(f.type)};`;
    });
    inputDecls.set(name, `export type ${name} = {\n${indent(fields.join('\n'))}\n};`);
    grew = true;
  }
}
const enumDecls = [...usedEnums].sort().map((name) => {
  const type = schema.getType(name);
  if (!isEnumType(type)) throw new Error(`${name} is not an enum`);
  return `export type ${name} = ${type
    .getValues()
    .map((v) => `'${v.value}'`)
    .join(' | ')};`;
});

const header = `// Generated by apps/console/scripts/codegen.ts from schema/schema.graphql and
// apps/console/src/graphql/*.graphql (\`pnpm generate\`). Do not edit.
/* eslint-disable */
import { gql } from 'urql';
`;
const body = [
  header,
  ...enumDecls,
  ...[...inputDecls.keys()].sort().map((k) => inputDecls.get(k)!),
  ...chunks,
].join('\n\n');
writeFileSync(outFile, `${body}\n`);
console.log(`wrote ${outFile}`);
