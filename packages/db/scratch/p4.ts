import v8 from 'node:v8';
if (process.env.V8FLAGS) v8.setFlagsFromString(process.env.V8FLAGS);
import { checkDrift } from '../src/migrate.ts';
for (let i = 0; i < 8; i++) {
  const t = Date.now();
  const r = await checkDrift();
  console.log(i, r.drift, Date.now() - t);
}
