import path from 'node:path';
import { defineConfig } from 'prisma/config';

// Prisma 7 downloads a native schema engine even for `prisma generate`; that cannot work offline.
// Point it at a stub that fails loudly: generation never calls it, migrations use the Wasm engine.
process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= path.resolve(
  import.meta.dirname,
  'scripts/no-native-schema-engine.sh',
);

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
});
