import { createHash } from 'node:crypto';
import { ensureDefaultWorkspace } from '@tollgate/control-plane';
import { openTestDatabase, type TestDatabase } from '@tollgate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_RECHECK_MS } from '../src/graphql/ws.ts';
import { type EventPlane, startEventPlane, subscribe, waitFor } from './events-harness.ts';
import {
  ADMIN_KEY,
  type Harness,
  KINDS,
  ROOT_KEY,
  rowCounts,
  skipKind,
  startHarness,
} from './harness.ts';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const get = (h: Harness, path: string, key: string) => h.api('GET', path, undefined, key);

/** Test set-up: every working admin key of the workspace but `ids` revoked in the database. */
async function keepOnly(h: Harness, ids: string[]) {
  await h.prisma.adminKey.updateMany({
    where: { workspaceId: h.workspaceId, revokedAt: null, id: { notIn: ids } },
    data: { revokedAt: new Date() },
  });
}

/** Test set-up: the harness's ADMIN_KEY working again, for the next test. */
async function restoreHarnessKey(h: Harness) {
  await h.prisma.adminKey.update({ where: { hash: sha256(ADMIN_KEY) }, data: { revokedAt: null } });
}

const harnessKeyId = async (h: Harness) =>
  (await h.prisma.adminKey.findUniqueOrThrow({ where: { hash: sha256(ADMIN_KEY) } })).id;

describe.each(KINDS)('admin keys on %s', (kind) => {
  let h: Harness;
  beforeAll(async () => {
    if (!skipKind(kind)) h = await startHarness(kind);
  });
  afterAll(async () => h?.close());

  it.skipIf(skipKind(kind))(
    'rotates with overlap: mint a second key, both work, revoke the first, it stops',
    async () => {
      const listed = await h.api('GET', '/v1/admin-keys');
      expect(listed.status).toBe(200);
      expect(listed.body.data).toHaveLength(1);
      const first = listed.body.data[0];
      expect(first).toMatchObject({ current: true, revoked_at: null });
      expect(first.id).toMatch(/^ak_/);
      expect(ADMIN_KEY.startsWith(first.prefix)).toBe(true);

      // The start-up key is named after the variable it came from.
      expect(first.name).toBe('TOLLGATE_ADMIN_KEY');
      const minted = await h.api('POST', '/v1/admin-keys', { name: ' ci runner ' });
      expect(minted.status).toBe(201);
      const second = minted.body;
      expect(second.name).toBe('ci runner');
      expect(second.key).toMatch(/^sk-tg-admin-[A-Za-z0-9]{43,}$/);
      expect(second).toMatchObject({ current: false, revoked_at: null });
      expect(second.key.startsWith(second.prefix)).toBe(true);
      // Only the hash and the prefix are stored.
      const row = await h.prisma.adminKey.findUniqueOrThrow({ where: { id: second.id } });
      expect(row.hash).toBe(sha256(second.key));
      expect(JSON.stringify(row)).not.toContain(second.key);

      // Both keys work; the listing says which one is calling.
      expect((await get(h, '/v1/workspace', second.key)).status).toBe(200);
      expect((await get(h, '/v1/workspace', ADMIN_KEY)).status).toBe(200);
      const seen = (await get(h, '/v1/admin-keys', second.key)).body.data;
      expect(seen.map((k: { id: string; current: boolean }) => [k.id, k.current])).toEqual([
        [first.id, false],
        [second.id, true],
      ]);

      // The new key retires the old one.
      const revoked = await h.api('DELETE', `/v1/admin-keys/${first.id}`, undefined, second.key);
      expect(revoked.status).toBe(200);
      expect(revoked.body).toMatchObject({ id: first.id, current: false });
      expect(typeof revoked.body.revoked_at).toBe('string');
      const refused = await get(h, '/v1/workspace', ADMIN_KEY);
      expect(refused.status).toBe(401);
      expect(refused.body.error.code).toBe('invalid_api_key');
      expect((await h.gql('{ workspace { id } }')).errors?.[0]).toBeDefined();
      expect((await get(h, '/v1/workspace', second.key)).status).toBe(200);

      // Revoking twice is harmless and keeps the first time.
      const again = await h.api('DELETE', `/v1/admin-keys/${first.id}`, undefined, second.key);
      expect(again.status).toBe(200);
      expect(again.body.revoked_at).toBe(revoked.body.revoked_at);

      // The last working key cannot be revoked: the workspace would be locked out.
      const before = await rowCounts(h.prisma);
      const last = await h.api('DELETE', `/v1/admin-keys/${second.id}`, undefined, second.key);
      expect(last.status).toBe(409);
      expect(last.body.error.message).toContain('last admin key');
      expect(await rowCounts(h.prisma)).toEqual(before);
      expect((await get(h, '/v1/workspace', second.key)).status).toBe(200);

      const actions = await h.prisma.auditLog.findMany({
        where: { workspaceId: h.workspaceId, targetType: 'admin_key' },
        orderBy: { createdAt: 'asc' },
      });
      expect(actions.map((a) => [a.action, a.targetId, a.actor])).toEqual([
        ['admin_key.create', second.id, first.id],
        ['admin_key.revoke', first.id, second.id],
      ]);

      await restoreHarnessKey(h);
    },
  );

  it.skipIf(skipKind(kind))(
    'a temporary key works until it expires; it is never the lifeline that allows a revocation',
    async () => {
      await keepOnly(h, [await harnessKeyId(h)]);
      const started = Date.now();
      const minted = await h.api('POST', '/v1/admin-keys', {
        name: 'ci job',
        expires_in_seconds: 3600,
      });
      expect(minted.status).toBe(201);
      const expiresAt = Date.parse(minted.body.expires_at);
      expect(expiresAt).toBeGreaterThanOrEqual(started + 3_600_000 - 1_000);
      expect(expiresAt).toBeLessThanOrEqual(Date.now() + 3_600_000 + 1_000);
      const temp = minted.body.key as string;
      expect((await get(h, '/v1/workspace', temp)).status).toBe(200);
      const listed = (await h.api('GET', '/v1/admin-keys')).body.data;
      expect(listed.find((k: { id: string }) => k.id === minted.body.id).expires_at).toBe(
        minted.body.expires_at,
      );

      // The harness key is the last one without an expiry: the temporary key cannot stand in for
      // it (the workspace would be locked out an hour later).
      const harnessId = await harnessKeyId(h);
      const before = await rowCounts(h.prisma);
      const refused = await h.api('DELETE', `/v1/admin-keys/${harnessId}`, undefined, temp);
      expect(refused.status).toBe(409);
      expect(refused.body.error.message).toBe(
        'this is the last admin key of the workspace without an expiry: create another one before revoking it',
      );
      expect(await rowCounts(h.prisma)).toEqual(before);

      // Test set-up: its hour has passed.
      await h.prisma.adminKey.update({
        where: { id: minted.body.id },
        data: { expiresAt: new Date(Date.now() - 1_000) },
      });
      const expired = await get(h, '/v1/workspace', temp);
      expect(expired.status).toBe(401);
      expect(expired.body.error.code).toBe('invalid_api_key');
      expect((await h.gql('{ workspace { id } }', undefined, temp)).errors?.[0]).toBeDefined();
      expect((await get(h, '/v1/workspace', ADMIN_KEY)).status).toBe(200);

      // GraphQL mints one too.
      const g = await h.gql(
        'mutation { createAdminKey(name: "gql temp", expiresInSeconds: 120) { __typename ... on CreateAdminKeyPayload { id expiresAt key } } }',
      );
      expect(g.errors).toBeUndefined();
      const made = g.data.createAdminKey;
      expect(Date.parse(made.expiresAt) - Date.now()).toBeGreaterThan(100_000);
      expect((await get(h, '/v1/workspace', made.key)).status).toBe(200);
      for (const id of [minted.body.id, made.id]) {
        expect((await h.api('DELETE', `/v1/admin-keys/${id}`)).status).toBe(200);
      }

      // Out of bounds or not a whole number of seconds: refused, nothing minted.
      const counted = await rowCounts(h.prisma);
      for (const expires_in_seconds of [59, 10 * 365 * 86_400 + 1, 1.5, '3600', -60]) {
        const bad = await h.api('POST', '/v1/admin-keys', { expires_in_seconds });
        expect(bad.status, String(expires_in_seconds)).toBe(400);
        expect(bad.body.error.param).toBe('expires_in_seconds');
      }
      expect(await rowCounts(h.prisma)).toEqual(counted);
    },
  );

  it.skipIf(skipKind(kind))(
    'refuses bad input, other workspaces and other kinds of key, changing nothing',
    async () => {
      const other = await h.api('POST', '/v1/workspaces', { name: `other-${kind}` }, ROOT_KEY);
      expect(other.status).toBe(201);
      const otherKeyId = (await get(h, '/v1/admin-keys', other.body.admin_key)).body.data[0].id;
      const sa = (await h.api('POST', '/v1/sub-accounts', { name: 'acme' })).body;
      const before = await rowCounts(h.prisma);

      const unknownField = await h.api('POST', '/v1/admin-keys', { label: 'ci' });
      expect(unknownField.status).toBe(400);
      expect(unknownField.body.error.type).toBe('invalid_request_error');
      for (const name of ['', '   ', 'x'.repeat(101), 'ünï', 7]) {
        const refused = await h.api('POST', '/v1/admin-keys', { name });
        expect(refused.status, JSON.stringify(name)).toBe(400);
        expect(refused.body.error.param).toBe('name');
      }
      const notObject = await h.raw('POST', '/v1/admin-keys', {
        body: '[1]',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      });
      expect(notObject.status).toBe(400);
      // Another workspace's key is not found from here, and cannot be revoked.
      const theirs = await h.api('DELETE', `/v1/admin-keys/${otherKeyId}`);
      expect(theirs.status).toBe(404);
      expect(theirs.body.error.code).toBe('not_found');
      expect((await h.api('DELETE', '/v1/admin-keys/ak_nope')).status).toBe(404);
      // A sub-account key is not an admin credential; the root key manages workspaces only.
      expect((await get(h, '/v1/admin-keys', sa.key)).status).toBe(401);
      expect((await h.api('POST', '/v1/admin-keys', undefined, sa.key)).status).toBe(401);
      expect((await get(h, '/v1/admin-keys', ROOT_KEY)).status).toBe(403);
      expect((await h.api('GET', '/v1/admin-keys', undefined, null)).status).toBe(401);
      expect((await h.api('PATCH', '/v1/admin-keys')).status).toBe(405);

      expect(await rowCounts(h.prisma)).toEqual(before);
      expect((await get(h, '/v1/workspace', other.body.admin_key)).status).toBe(200);
    },
  );

  it.skipIf(skipKind(kind))(
    'two revocations racing for the last two keys leave one key working',
    async () => {
      // Repeated: a race that goes unserialised loses only now and then.
      for (let round = 0; round < 8; round++) {
        const a = (await h.api('POST', '/v1/admin-keys')).body;
        const b = (await h.api('POST', '/v1/admin-keys')).body;
        await keepOnly(h, [a.id, b.id]);
        const [ra, rb] = await Promise.all([
          h.api('DELETE', `/v1/admin-keys/${b.id}`, undefined, a.key),
          h.api('DELETE', `/v1/admin-keys/${a.id}`, undefined, b.key),
        ]);
        const statuses = [ra.status, rb.status].sort();
        // One wins; the other is refused as the last key (409), or, had the winner committed
        // before it authenticated, as a revoked key (401).
        expect(statuses[0]).toBe(200);
        expect([401, 409]).toContain(statuses[1]);
        const working = await h.prisma.adminKey.count({
          where: { workspaceId: h.workspaceId, revokedAt: null },
        });
        expect(working).toBe(1);
        await restoreHarnessKey(h);
      }
      await restoreHarnessKey(h);
    },
  );

  it.skipIf(skipKind(kind))('works the same over GraphQL', async () => {
    const created = await h.gql(`mutation {
      createAdminKey(name: "graphql") { __typename ... on CreateAdminKeyPayload { id name prefix key createdAt } }
    }`);
    const payload = created.data.createAdminKey;
    expect(payload.__typename).toBe('CreateAdminKeyPayload');
    expect(payload.key).toMatch(/^sk-tg-admin-/);
    expect(payload.name).toBe('graphql');
    const list = await h.gql(
      '{ adminKeys(first: 50) { ... on AdminKeyConnection { edges { node { id prefix current revokedAt } } } } }',
    );
    const nodes = list.data.adminKeys.edges.map((e: { node: unknown }) => e.node);
    expect(nodes).toContainEqual({
      id: payload.id,
      prefix: payload.prefix,
      current: false,
      revokedAt: null,
    });
    expect(nodes.filter((n: { current: boolean }) => n.current)).toHaveLength(1);

    const revoke = `mutation ($id: ID!) {
      revokeAdminKey(id: $id) {
        __typename
        ... on AdminKey { id revokedAt }
        ... on ConflictError { message }
        ... on NotFoundError { message }
      }
    }`;
    const done = await h.gql(revoke, { id: payload.id });
    expect(done.data.revokeAdminKey.__typename).toBe('AdminKey');
    expect(done.data.revokeAdminKey.revokedAt).not.toBeNull();
    expect((await get(h, '/v1/workspace', payload.key)).status).toBe(401);
    expect((await h.gql(revoke, { id: 'ak_nope' })).data.revokeAdminKey.__typename).toBe(
      'NotFoundError',
    );
    // With the harness key the only working key left, revoking it is a typed conflict.
    const self = await harnessKeyId(h);
    await keepOnly(h, [self]);
    const conflict = await h.gql(revoke, { id: self });
    expect(conflict.data.revokeAdminKey).toMatchObject({ __typename: 'ConflictError' });
    expect(conflict.data.revokeAdminKey.message).toContain('last admin key');
  });

  it.skipIf(skipKind(kind))(
    'a revoked TOLLGATE_ADMIN_KEY stays revoked when the control plane starts with it again',
    async () => {
      const spare = (await h.api('POST', '/v1/admin-keys')).body;
      const envKeyId = await harnessKeyId(h);
      expect(
        (await h.api('DELETE', `/v1/admin-keys/${envKeyId}`, undefined, spare.key)).status,
      ).toBe(200);
      const boot = await ensureDefaultWorkspace(
        { prisma: h.prisma, secretKey: Buffer.alloc(32, 7) },
        ADMIN_KEY,
      );
      expect(boot.adminKeyRevoked).toBe(true);
      expect((await get(h, '/v1/workspace', ADMIN_KEY)).status).toBe(401);
      const current = await ensureDefaultWorkspace(
        { prisma: h.prisma, secretKey: Buffer.alloc(32, 7) },
        spare.key,
      );
      expect(current.adminKeyRevoked).toBe(false);
      await restoreHarnessKey(h);
    },
  );
});

describe('admin key revocation and live feeds', () => {
  let t: TestDatabase;
  let one: EventPlane;
  let two: EventPlane;
  beforeAll(async () => {
    t = await openTestDatabase('pglite');
    // Two control-plane replicas on one database.
    one = await startEventPlane({ prisma: t.db.prisma });
    two = await startEventPlane({ prisma: t.db.prisma, consumer: 'c2' });
  }, 120_000);
  afterAll(async () => {
    await two?.stop();
    await one?.stop();
    await t?.cleanup();
  });

  it('closes the subscriptions of a key revoked on another replica, or expired', async () => {
    const spare = (await one.api('POST', '/v1/admin-keys')).body;
    const sa = (await one.api('POST', '/v1/sub-accounts', { name: 'acme' })).body;
    const query = `subscription ($id: ID!) { spendUpdates(subAccountId: $id) { spentCents } }`;
    const doomed = subscribe(two.wsUrl, spare.key, query, { id: sa.id });
    const kept = subscribe(two.wsUrl, ADMIN_KEY, query, { id: sa.id });
    await Promise.all([doomed.connected, kept.connected]);

    // A temporary key's subscription ends when the key expires.
    const temp = (await one.api('POST', '/v1/admin-keys', { expires_in_seconds: 60 })).body;
    const expiring = subscribe(two.wsUrl, temp.key, query, { id: sa.id });
    await expiring.connected;

    expect((await one.api('DELETE', `/v1/admin-keys/${spare.id}`)).status).toBe(200);
    // Test set-up: the temporary key's minute has passed.
    await t.db.prisma.adminKey.update({
      where: { id: temp.id },
      data: { expiresAt: new Date(Date.now() - 1_000) },
    });
    await waitFor(() => doomed.errors.length > 0 && expiring.errors.length > 0, KEY_RECHECK_MS * 3);
    expect((doomed.errors[0] as { code?: number }).code).toBe(4403);
    expect((expiring.errors[0] as { code?: number }).code).toBe(4403);
    // The other key's subscription lives on.
    await new Promise((r) => setTimeout(r, KEY_RECHECK_MS + 500));
    expect(kept.errors).toEqual([]);
    await Promise.all([doomed.close(), kept.close(), expiring.close()]);
  });
});
