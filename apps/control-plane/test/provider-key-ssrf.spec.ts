import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import { isPrivateAddress } from '@tollgate/policy/private-address';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, KINDS, rowCounts, skipKind, startHarness } from './harness.ts';

const ERR = '... on Error { __typename message } ... on ValidationError { field }';

/** Workspace-supplied base URLs an admin could aim the data plane at inside the platform's network. */
const PRIVATE = [
  'http://127.0.0.1:4000',
  'http://127.1:4000/v1', // shorthand the URL parser expands to 127.0.0.1
  'http://2130706433/v1', // decimal 127.0.0.1
  'http://0x7f000001/v1', // hex 127.0.0.1
  'http://0177.0.0.1/v1', // octal 127.0.0.1
  'http://169.254.169.254/latest/meta-data',
  'http://10.1.2.3/v1',
  'http://172.16.0.1/v1',
  'http://192.168.1.1/v1',
  'http://100.64.0.1/v1',
  'http://0.0.0.0:8080/v1',
  'http://[::1]:4000/v1',
  'http://[::]/v1',
  'http://[::ffff:127.0.0.1]/v1',
  'http://[::ffff:169.254.169.254]/v1',
  'http://[fd00::1]/v1',
  'http://[fe80::1]/v1',
  'http://224.0.0.1/v1',
  'http://[ff02::1]/v1',
  'http://localhost:4000/v1',
  'http://LOCALHOST./v1',
  'http://api.localhost/v1',
  'http://metadata.google.internal/computeMetadata/v1',
];

/** Public literals (and documentation ranges, routed nowhere: nothing inside to reach). */
const PUBLIC = [
  'https://8.8.8.8/v1',
  'https://203.0.113.10/v1',
  'https://[2606:4700::1111]/v1',
  'https://[::ffff:8.8.8.8]/v1',
];

describe.each(KINDS)('BYOK base URLs: SSRF guard on %s', (kind) => {
  let h: Harness;
  let open: Harness;
  beforeAll(async () => {
    if (skipKind(kind)) return;
    h = await startHarness(kind);
    open = await startHarness(kind, { allowPrivateUpstreams: true });
  });
  afterAll(async () => {
    await h?.close();
    await open?.close();
  });

  it.skipIf(skipKind(kind))(
    'REST refuses private, loopback and link-local base URLs with 400 base_url, storing nothing',
    async () => {
      const before = await rowCounts(h.prisma);
      for (const base_url of PRIVATE) {
        const res = await h.api('POST', '/v1/provider-keys', {
          provider: 'intern',
          api_key: 'sk-intern-key-123456',
          base_url,
        });
        expect(res.status, base_url).toBe(400);
        expect(res.body.error).toMatchObject({
          type: 'invalid_request_error',
          code: 'validation_error',
          param: 'base_url',
        });
        expect(res.body.error.message).toMatch(/^base_url: private/);
      }
      expect(await rowCounts(h.prisma)).toEqual(before);
    },
  );

  it.skipIf(skipKind(kind))(
    "a sub-account's own key and a replaced key are guarded too; the stored key is unchanged",
    async () => {
      const sa = (await h.api('POST', '/v1/sub-accounts', { name: 'ssrf-sub' })).body;
      const refused = await h.api('POST', `/v1/sub-accounts/${sa.id}/provider-keys`, {
        provider: 'intern',
        api_key: 'sk-intern-key-123456',
        base_url: 'http://169.254.169.254/',
      });
      expect(refused.status).toBe(400);
      expect(refused.body.error.param).toBe('base_url');
      expect((await h.api('GET', `/v1/sub-accounts/${sa.id}/provider-keys`)).body.data).toEqual([]);

      const made = await h.api('POST', '/v1/provider-keys', {
        provider: 'replaced',
        api_key: 'sk-public-key-123456',
        base_url: 'https://8.8.8.8/v1',
      });
      expect(made.status).toBe(201);
      const before = await rowCounts(h.prisma);
      const replaced = await h.api('POST', '/v1/provider-keys', {
        provider: 'replaced',
        api_key: 'sk-other-key-654321',
        base_url: 'http://[::ffff:7f00:1]:4000',
      });
      expect(replaced.status).toBe(400);
      expect(await rowCounts(h.prisma)).toEqual(before);
      const row = await h.prisma.providerCredential.findUniqueOrThrow({
        where: { id: made.body.id },
      });
      expect(row).toMatchObject({ baseUrl: 'https://8.8.8.8/v1', keyHint: '3456' });
      expect((await h.api('DELETE', `/v1/provider-keys/${made.body.id}`)).status).toBe(200);
    },
  );

  it.skipIf(skipKind(kind))(
    'a host name resolving to a private address is refused (this machine’s own name)',
    async (ctx) => {
      const name = hostname();
      const addresses = await lookup(name, { all: true }).catch(() => []);
      if (addresses.length === 0 || !addresses.some((a) => isPrivateAddress(a.address))) {
        ctx.skip();
      }
      const res = await h.api('POST', '/v1/provider-keys', {
        provider: 'intern',
        api_key: 'sk-intern-key-123456',
        base_url: `http://${name}:4000/v1`,
      });
      expect(res.status).toBe(400);
      expect(res.body.error.param).toBe('base_url');
    },
  );

  it.skipIf(skipKind(kind))('GraphQL refuses them with a typed ValidationError', async () => {
    const before = await rowCounts(h.prisma);
    for (const baseUrl of [
      'http://127.0.0.1:4000',
      'http://169.254.169.254/',
      'http://10.0.0.1/v1',
      'http://[::1]/v1',
      'http://[::ffff:127.0.0.1]/v1',
      'http://localhost/v1',
    ]) {
      const res = await h.gql(
        `mutation($baseUrl: String) { createProviderKey(provider: "intern", apiKey: "sk-intern-key-123456", baseUrl: $baseUrl) { __typename ${ERR} } }`,
        { baseUrl },
      );
      expect(res.errors, baseUrl).toBeUndefined();
      expect(res.data.createProviderKey, baseUrl).toMatchObject({
        __typename: 'ValidationError',
        field: 'baseUrl',
      });
    }
    expect(await rowCounts(h.prisma)).toEqual(before);
  });

  it.skipIf(skipKind(kind))(
    'public literals are accepted (documentation ranges included)',
    async () => {
      for (const [i, base_url] of PUBLIC.entries()) {
        const res = await h.api('POST', '/v1/provider-keys', {
          provider: `public-${i}`,
          api_key: 'sk-public-key-123456',
          base_url,
        });
        expect(res.status, base_url).toBe(201);
      }
      const res = await h.gql(
        `mutation { createProviderKey(provider: "gql-public", apiKey: "sk-public-key-123456", baseUrl: "https://8.8.4.4/v1") { __typename ${ERR} } }`,
      );
      expect(res.data.createProviderKey.__typename).toBe('ProviderKey');
    },
  );

  it.skipIf(skipKind(kind))(
    'TOLLGATE_ALLOW_PRIVATE_UPSTREAMS=true accepts them (REST and GraphQL)',
    async () => {
      for (const [i, base_url] of PRIVATE.entries()) {
        const res = await open.api('POST', '/v1/provider-keys', {
          provider: `intern-${i}`,
          api_key: 'sk-intern-key-123456',
          base_url,
        });
        expect(res.status, base_url).toBe(201);
      }
      const res = await open.gql(
        `mutation { createProviderKey(provider: "gql-intern", apiKey: "sk-intern-key-123456", baseUrl: "http://[::1]:4000/v1") { __typename ${ERR} } }`,
      );
      expect(res.data.createProviderKey.__typename).toBe('ProviderKey');
    },
  );
});
