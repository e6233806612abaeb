import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { schema } from './schema.ts';

/** The committed SDL (SPEC §5): sorted, so it only changes when the schema does. */
export const SCHEMA_FILE = fileURLToPath(
  new URL('../../../../schema/schema.graphql', import.meta.url),
);

export function printedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}

// `pnpm generate` runs this file (scripts/generate.sh); CI fails when the output drifts.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  writeFileSync(SCHEMA_FILE, printedSchema());
  console.log(`wrote ${SCHEMA_FILE}`);
}
