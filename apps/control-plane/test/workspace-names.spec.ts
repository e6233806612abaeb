import { ensureDefaultWorkspace } from '@tollgate/control-plane';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, KINDS, ROOT_KEY, rowCounts, skipKind, startHarness } from './harness.ts';

describe.each(KINDS)('workspace names on %s', (kind) => {
  let h: Harness;
  beforeAll(async () => {
    if (!skipKind(kind)) h = await startHarness(kind);
  });
  afterAll(async () => h?.close());
  const create = (name: string) => h.api('POST', '/v1/workspaces', { name }, ROOT_KEY);

  it.skipIf(skipKind(kind))(
    'names that differ only in case are one name: 409, nothing created',
    async () => {
      expect((await create('Team-A')).status).toBe(201);
      const before = await rowCounts(h.prisma);
      for (const name of ['team-a', 'TEAM-A', 'Team-A']) {
        const dup = await create(name);
        expect(dup.status, name).toBe(409);
        expect(dup.body.error.message).toBe("a workspace named 'Team-A' already exists");
      }
      expect(await rowCounts(h.prisma)).toEqual(before);
      // GraphQL says the same, as a typed conflict.
      const g = await h.gql(
        'mutation { createWorkspace(name: "team-A") { __typename ... on ConflictError { message } } }',
        {},
        ROOT_KEY,
      );
      expect(g.data.createWorkspace.__typename).toBe('ConflictError');
      expect(await rowCounts(h.prisma)).toEqual(before);
    },
  );

  it.skipIf(skipKind(kind))(
    'concurrent creations of one name in different cases: one wins',
    async () => {
      const answers = await Promise.all(
        ['Race-Co', 'race-co', 'RACE-CO', 'rAcE-cO'].map((name) => create(name)),
      );
      expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409, 409]);
      const rows = await h.prisma.workspace.findMany({
        where: { name: { equals: 'race-co', mode: 'insensitive' } },
      });
      expect(rows).toHaveLength(1);
    },
  );

  it.skipIf(skipKind(kind))(
    'start-up finds workspace default whatever its case (no second one)',
    async () => {
      await h.prisma.workspace.update({ where: { id: h.workspaceId }, data: { name: 'Default' } });
      try {
        const boot = await ensureDefaultWorkspace(
          { prisma: h.prisma, secretKey: Buffer.alloc(32, 7) },
          null,
        );
        expect(boot.workspaceId).toBe(h.workspaceId);
        expect(
          await h.prisma.workspace.count({
            where: { name: { equals: 'default', mode: 'insensitive' } },
          }),
        ).toBe(1);
      } finally {
        await h.prisma.workspace.update({
          where: { id: h.workspaceId },
          data: { name: 'default' },
        });
      }
    },
  );
});
