import { PGlite } from '@electric-sql/pglite';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import { SchemaEngine } from '@prisma/schema-engine-wasm';
import { readFileSync } from 'node:fs';

const schema = readFileSync('/work/main/prisma/schema.prisma', 'utf8');
const t0 = Date.now();
const pg = new PGlite();
await pg.waitReady;
console.log('pglite ready', Date.now() - t0);
const f = bindMigrationAwareSqlAdapterFactory(new PrismaPGlite(pg));
const logs: unknown[] = [];
const e1 = await SchemaEngine.new({ datamodels: [['schema.prisma', schema]] }, (l: unknown) => logs.push(l), f);
console.log('e1', Date.now() - t0);
const r = await e1.diff({ from: { tag: 'empty' }, to: { tag: 'schemaDatamodel', files: [{ path: 'schema.prisma', content: schema }] }, script: true, exitCode: true, filters: { externalTables: [], externalEnums: [] } });
console.log(r.exitCode, r.stdout?.slice(0, 200));
try {
  const pg2 = new PGlite();
  const e2 = await SchemaEngine.new({ datamodels: [['schema.prisma', schema]] }, (l: unknown) => logs.push(l), bindMigrationAwareSqlAdapterFactory(new PrismaPGlite(pg2)));
  console.log('e2 ok', await e2.version());
  e2.free();
  await pg2.close();
} catch (e) { console.log('e2 failed', e); }
e1.free();
await pg.close();
console.log('logs', logs.length, logs.slice(0, 3));
