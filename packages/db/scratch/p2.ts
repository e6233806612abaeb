import { checkDrift, createMigration } from '../src/migrate.ts';
let t = Date.now();
const r = await checkDrift();
console.log('drift', r.drift, Date.now() - t, r.script.length);
t = Date.now();
console.log(await createMigration('init'), Date.now() - t);
t = Date.now();
const r2 = await checkDrift();
console.log('drift2', r2.drift, Date.now() - t, JSON.stringify(r2.script));
