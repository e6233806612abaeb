import { createHash } from 'node:crypto';

/**
 * The canonical JSON text of a value: object keys sorted, `undefined` members left out (as
 * JSON.stringify does), and array elements sorted by their own canonical text.
 *
 * Sorting arrays is sound because every array on the policy wire is a set (entities with unique
 * identities, model allow-lists, id lists): their order carries no meaning, so the checksum must not
 * depend on the order rows came out of the database. Any total order would do; ordering by the
 * element's canonical text needs no per-type knowledge of identity fields, so a field added later
 * cannot be forgotten here.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    // JSON.stringify answers undefined for undefined/functions; inside arrays JSON writes null.
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) {
    const items = value.map(canonicalJson);
    items.sort();
    return `[${items.join(',')}]`;
  }
  const record = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of Object.keys(record).sort()) {
    const member = record[key];
    if (member === undefined) continue;
    parts.push(`${JSON.stringify(key)}:${canonicalJson(member)}`);
  }
  return `{${parts.join(',')}}`;
}

/**
 * sha-256 (lower-case hex) of the canonical JSON of a snapshot or delta without its `checksum`
 * field. A `checksum` member present on the input is ignored, so the function can be run on a
 * received message directly.
 */
export function computeChecksum(body: object): string {
  const { checksum: _ignored, ...rest } = body as Record<string, unknown>;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}
