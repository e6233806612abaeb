// Prints the JSON schemas of the two wire formats (policy, usage) into schema/, so consumers in any
// language can validate them and CI notices when a change alters them (`pnpm generate --check`).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { PolicyDeltaSchema, PolicySnapshotSchema } from '@tollgate/policy';
import { UsageEventSchema } from '@tollgate/usage';
import { z } from 'zod';

const outDir = path.resolve(import.meta.dirname, '../../../..', 'schema');
const schemas: Record<string, z.ZodType> = {
  'policy-snapshot.schema.json': PolicySnapshotSchema,
  'policy-delta.schema.json': PolicyDeltaSchema,
  'usage-event.schema.json': UsageEventSchema,
};
for (const [file, schema] of Object.entries(schemas)) {
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', unrepresentable: 'any' });
  writeFileSync(path.join(outDir, file), `${JSON.stringify(json, null, 2)}\n`);
  console.log(`wrote ${path.join(outDir, file)}`);
}
