import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, KINDS, skipKind, startHarness } from './harness.ts';

const SEARCH = `query ($search: String) {
  subAccounts(search: $search, first: 50) {
    ... on SubAccountConnection { edges { node { name } } }
  }
}`;

describe.each(KINDS)('sub-account search on %s', (kind) => {
  let h: Harness;
  beforeAll(async () => {
    if (skipKind(kind)) return;
    h = await startHarness(kind);
    for (const name of ['bulk-001', 'bulk_002', '100%-done', 'back\\slash']) {
      expect((await h.api('POST', '/v1/sub-accounts', { name })).status).toBe(201);
    }
  });
  afterAll(async () => h?.close());

  const found = async (search: string) =>
    (await h.gql(SEARCH, { search })).data.subAccounts.edges
      .map((e: { node: { name: string } }) => e.node.name)
      .sort();

  it.skipIf(skipKind(kind))('matches the characters typed: % and _ are not wildcards', async () => {
    expect(await found('%')).toEqual(['100%-done']);
    expect(await found('bulk_0')).toEqual(['bulk_002']);
    expect(await found('b%1')).toEqual([]);
    expect(await found('\\s')).toEqual(['back\\slash']);
    expect(await found('BULK')).toEqual(['bulk-001', 'bulk_002']);
  });
});
