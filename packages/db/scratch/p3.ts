import { PGlite } from '@electric-sql/pglite';
for (let i = 0; i < 6; i++) {
  const t = Date.now();
  const a = new PGlite();
  const b = new PGlite();
  await a.waitReady; await b.waitReady;
  await a.query('select 1');
  await a.close(); await b.close();
  console.log(i, Date.now() - t);
}
