import { defineConfig } from 'vitest/config';

// One run over every package and app. Integration tests share real services, so files run in
// parallel but each creates its own database / key prefix (see packages/testkit).
export default defineConfig({
  // graphql ships CommonJS and ESM builds; resolve every import to the same (ESM) one, or
  // graphql-yoga and our schema would hold two copies and refuse each other's types.
  ssr: { resolve: { conditions: ['module-sync', 'node', 'default'] } },
  test: {
    include: ['{packages,apps}/*/{src,test}/**/*.spec.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    maxWorkers: 2,
  },
});
