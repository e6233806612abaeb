import { describe, expect, it } from 'vitest';
import {
  computeChecksum,
  decodeDelta,
  decodePolicyMessage,
  decodeSnapshot,
  decodeSnapshotInSlices,
  encodeDelta,
  encodeSnapshot,
  encodeSnapshotInSlices,
  PolicyEncodeError,
  snapshotRevisionOf,
} from '../src/index.ts';
import { delta, hashOf, key, snapshot, subAccount, turnsDuring } from './fixtures.ts';

describe('snapshot codec', () => {
  it('tells the revision of an encoded snapshot from its head; null for any other text', () => {
    expect(snapshotRevisionOf(encodeSnapshot(snapshot({ revision: 4_321 })))).toBe(4_321);
    expect(snapshotRevisionOf('{"revision":4,"version":1}')).toBeNull();
    expect(snapshotRevisionOf('not json')).toBeNull();
  });

  it('round-trips a snapshot', () => {
    const body = snapshot();
    const text = encodeSnapshot(body);
    const decoded = decodeSnapshot(text);
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    const { checksum, ...rest } = decoded.value;
    expect(rest).toEqual(body);
    expect(checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(checksum).toBe(computeChecksum(body));
  });

  it('gives the same checksum whatever the row order', () => {
    const a = key({ id: 'key_a', hash: hashOf('a') });
    const b = key({ id: 'key_b', hash: hashOf('b') });
    const one = JSON.parse(encodeSnapshot(snapshot({ keys: [a, b] })));
    const two = JSON.parse(encodeSnapshot(snapshot({ keys: [b, a] })));
    expect(one.checksum).toBe(two.checksum);
  });

  it('strips unknown fields when encoding', () => {
    const body = { ...snapshot(), extra: 'ignored' };
    expect(JSON.parse(encodeSnapshot(body))).not.toHaveProperty('extra');
  });

  it('accepts unknown fields covered by the checksum (rolling upgrade)', () => {
    const doc = { ...JSON.parse(encodeSnapshot(snapshot())), futureField: 1 };
    doc.checksum = computeChecksum(doc);
    const decoded = decodeSnapshot(JSON.stringify(doc));
    expect(decoded.ok).toBe(true);
    if (decoded.ok) expect(decoded.value).not.toHaveProperty('futureField');
  });

  it('refuses an unknown version before anything else', () => {
    const doc = { ...JSON.parse(encodeSnapshot(snapshot())), version: 2 };
    const decoded = decodeSnapshot(JSON.stringify(doc));
    expect(decoded).toMatchObject({ ok: false, reason: 'unknown_version' });
  });

  it('refuses a bad checksum', () => {
    const doc = JSON.parse(encodeSnapshot(snapshot()));
    doc.subAccounts[0].spendCapMicros = 999_999_999;
    expect(decodeSnapshot(JSON.stringify(doc))).toMatchObject({
      ok: false,
      reason: 'bad_checksum',
    });
  });

  it('refuses a truncated message and non-objects as invalid', () => {
    const text = encodeSnapshot(snapshot());
    expect(decodeSnapshot(text.slice(0, -10))).toMatchObject({ ok: false, reason: 'invalid' });
    expect(decodeSnapshot('[]')).toMatchObject({ ok: false, reason: 'invalid' });
    expect(decodeSnapshot('null')).toMatchObject({ ok: false, reason: 'invalid' });
    expect(decodeSnapshot('{"checksum":"x"}')).toMatchObject({ ok: false, reason: 'invalid' });
  });

  it('refuses a well-checksummed message that breaks the schema', () => {
    const doc = JSON.parse(encodeSnapshot(snapshot()));
    doc.subAccounts[0].spendCapMicros = 1.5;
    doc.checksum = computeChecksum(doc);
    const decoded = decodeSnapshot(JSON.stringify(doc));
    expect(decoded).toMatchObject({ ok: false, reason: 'invalid' });
    if (!decoded.ok) expect(decoded.message).toContain('spendCapMicros');
  });

  it('refuses cross-entity problems on both sides', () => {
    const dup = snapshot({ keys: [key(), key({ id: 'key_2' })] });
    expect(() => encodeSnapshot(dup)).toThrow(PolicyEncodeError);
    expect(() => encodeSnapshot(dup)).toThrow(/duplicate key hash/);
    const dangling = snapshot({ subAccounts: [subAccount({ workspaceId: 'ws_missing' })] });
    expect(() => encodeSnapshot(dangling)).toThrow(/unknown ws_missing/);

    const doc = { ...dup, checksum: computeChecksum(dup) };
    expect(decodeSnapshot(JSON.stringify(doc))).toMatchObject({ ok: false, reason: 'invalid' });
  });

  it('refuses a fractional markup beyond two decimals and a bad hash', () => {
    expect(() =>
      encodeSnapshot(
        snapshot({ workspaces: [{ ...snapshot().workspaces[0]!, markupPercent: 1.234 }] }),
      ),
    ).toThrow(PolicyEncodeError);
    expect(() => encodeSnapshot(snapshot({ keys: [key({ hash: 'ABC' })] }))).toThrow(
      PolicyEncodeError,
    );
  });
});

describe('snapshot codec, a slice at a time (large policies)', () => {
  /** Several entities per list, in no particular order, plans and sub-account routes included. */
  const large = () => {
    const subAccounts = Array.from({ length: 23 }, (_, i) =>
      subAccount({
        id: `sa_${(i * 7) % 23}`,
        allowedModels: i % 2 === 0 ? ['openai/gpt-5.4-mini', 'openai/gpt-5.4'] : [],
        ...(i % 5 === 0 ? { planId: 'plan_1', overrides: ['rateLimitRpm' as const] } : {}),
        ...(i % 3 === 0 ? { prepaid: true } : {}),
      }),
    );
    const keys = subAccounts.map((a, i) =>
      key({ id: `key_${i}`, subAccountId: a.id, hash: hashOf(`k${i}`), revoked: i % 4 === 0 }),
    );
    return snapshot({
      revision: 99,
      subAccounts,
      keys,
      plans: [
        {
          id: 'plan_1',
          workspaceId: 'ws_1',
          spendCapMicros: 1_000,
          budgetPeriod: 'daily',
          rateLimitRpm: 5,
          rateLimitRpd: null,
          rateLimitTpm: null,
          maxConcurrent: null,
          allowedModels: [],
          defaultTag: null,
          markupPercent: null,
          fallbackModel: null,
        },
      ],
      subAccountRoutes: [
        {
          workspaceId: 'ws_1',
          provider: 'openai',
          baseUrl: null,
          sealedApiKey: 'sealed:x',
          subAccountId: 'sa_3',
        },
      ],
    });
  };

  it('writes the text encodeSnapshot writes, byte for byte, across slice boundaries', async () => {
    for (const body of [snapshot(), large(), { ...large(), extra: 'stripped' }]) {
      const whole = encodeSnapshot(body);
      for (const slice of [1, 4, 5, 1_000]) {
        expect(await encodeSnapshotInSlices(body, slice)).toBe(whole);
      }
    }
    const { plans: _p, subAccountRoutes: _r, ...withoutOptional } = large();
    const plain = {
      ...withoutOptional,
      subAccounts: withoutOptional.subAccounts.map((a) => ({
        ...a,
        planId: undefined,
        overrides: undefined,
      })),
    };
    expect(await encodeSnapshotInSlices(plain, 3)).toBe(encodeSnapshot(plain));
    expect(decodeSnapshot(await encodeSnapshotInSlices(large(), 4)).ok).toBe(true);
  });

  it('yields to the event loop between slices', async () => {
    const { value: text, turns } = await turnsDuring(() => encodeSnapshotInSlices(large(), 1));
    expect(decodeSnapshot(text).ok).toBe(true);
    // 23 sub-accounts and 23 keys a slice each: other work ran in between, not only after.
    expect(turns).toBeGreaterThan(40);
  });

  it('decodes as decodeSnapshot does: the same snapshot, the same refusals', async () => {
    const text = encodeSnapshot(large());
    const doc = JSON.parse(text);
    const withFuture = { ...doc, futureField: [3, 1, 2], subAccounts: [...doc.subAccounts] };
    withFuture.subAccounts[4] = { ...withFuture.subAccounts[4], futureToo: { b: 1, a: [2, 1] } };
    withFuture.checksum = computeChecksum(withFuture);
    const tampered = JSON.parse(text);
    tampered.keys[7].revoked = !tampered.keys[7].revoked;
    const invalid = JSON.parse(text);
    invalid.subAccounts[9].spendCapMicros = 1.5;
    invalid.checksum = computeChecksum(invalid);
    const dangling = JSON.parse(text);
    dangling.keys[11].subAccountId = 'sa_nobody';
    dangling.checksum = computeChecksum(dangling);
    const missing = JSON.parse(text);
    delete missing.keys;
    missing.checksum = computeChecksum(missing);
    const cases = [
      text,
      JSON.stringify(withFuture),
      JSON.stringify(tampered),
      JSON.stringify(invalid),
      JSON.stringify(dangling),
      JSON.stringify(missing),
      JSON.stringify({ ...doc, version: 2 }),
      text.slice(0, -3),
      '[]',
    ];
    for (const one of cases) {
      const whole = decodeSnapshot(one);
      for (const slice of [1, 3, 1_000]) {
        const sliced = await decodeSnapshotInSlices(one, slice);
        expect(sliced.ok).toBe(whole.ok);
        if (whole.ok && sliced.ok) expect(sliced.value).toEqual(whole.value);
        if (!whole.ok && !sliced.ok) expect(sliced.reason).toBe(whole.reason);
      }
    }
    // The refusals name what is wrong.
    const refusal = await decodeSnapshotInSlices(JSON.stringify(dangling), 3);
    expect(refusal.ok ? '' : refusal.message).toContain('refers to unknown sa_nobody');
    const schema = await decodeSnapshotInSlices(JSON.stringify(invalid), 3);
    expect(schema.ok ? '' : schema.message).toContain('subAccounts.9.spendCapMicros');
  });

  it('refuses what encodeSnapshot refuses, naming the entity by its place in the document', async () => {
    const body = large();
    body.subAccounts[17] = { ...body.subAccounts[17]!, spendCapMicros: 1.5 };
    await expect(encodeSnapshotInSlices(body, 5)).rejects.toThrow(PolicyEncodeError);
    await expect(encodeSnapshotInSlices(body, 5)).rejects.toThrow(
      /subAccounts\.17\.spendCapMicros/,
    );
    const dangling = large();
    dangling.keys[3] = { ...dangling.keys[3]!, subAccountId: 'sa_nobody' };
    await expect(encodeSnapshotInSlices(dangling, 5)).rejects.toThrow(
      /refers to unknown sa_nobody/,
    );
    const duplicate = large();
    duplicate.keys[9] = { ...duplicate.keys[9]!, hash: duplicate.keys[2]!.hash };
    await expect(encodeSnapshotInSlices(duplicate, 5)).rejects.toThrow(/duplicate key hash/);
  });
});

describe('delta codec', () => {
  const upsert = delta(7, {
    upserts: { keys: [key({ revoked: true })] },
    deletes: { tagBudgets: ['bud_1'] },
  });

  it('round-trips a delta', () => {
    const decoded = decodeDelta(encodeDelta(upsert));
    expect(decoded.ok).toBe(true);
    if (decoded.ok) expect(decoded.value).toMatchObject(upsert);
  });

  it('refuses unknown versions and bad checksums', () => {
    const doc = JSON.parse(encodeDelta(upsert));
    expect(decodeDelta(JSON.stringify({ ...doc, version: 0 }))).toMatchObject({
      ok: false,
      reason: 'unknown_version',
    });
    expect(decodeDelta(JSON.stringify({ ...doc, baseRevision: 3 }))).toMatchObject({
      ok: false,
      reason: 'bad_checksum',
    });
  });

  it('requires revision = baseRevision + 1 and each entity once', () => {
    expect(() => encodeDelta({ ...upsert, revision: 9 })).toThrow(PolicyEncodeError);
    const twice = delta(7, { upserts: { keys: [key()] }, deletes: { keys: ['key_1'] } });
    expect(() => encodeDelta(twice)).toThrow(/appears twice/);
  });

  it('tells snapshots and deltas apart on a shared channel', () => {
    const s = decodePolicyMessage(encodeSnapshot(snapshot()));
    const d = decodePolicyMessage(encodeDelta(upsert));
    expect(s.ok && s.value.kind).toBe('snapshot');
    expect(d.ok && d.value.kind).toBe('delta');
    expect(decodePolicyMessage('nope')).toMatchObject({ ok: false, reason: 'invalid' });
  });
});

describe('provider route kind and api-version (additive within version 1)', () => {
  const azureRoute = {
    workspaceId: 'ws_1',
    provider: 'myazure',
    baseUrl: 'https://res.openai.azure.com',
    kind: 'azure' as const,
    apiVersion: '2025-01-01-preview',
    sealedApiKey: 'sealed:az',
  };

  it('round-trips a snapshot whose route carries kind and apiVersion', () => {
    const body = snapshot({ providerRoutes: [...snapshot().providerRoutes, azureRoute] });
    const decoded = decodeSnapshot(encodeSnapshot(body));
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    const { checksum, ...rest } = decoded.value;
    expect(rest).toEqual(body);
    expect(checksum).toBe(computeChecksum(body));
    expect(decoded.value.providerRoutes).toContainEqual(azureRoute);
  });

  it('decodes a version-1 snapshot published without the fields, its checksum unchanged', () => {
    const body = snapshot();
    expect(body.providerRoutes[0]).not.toHaveProperty('kind');
    // As an older control plane wrote it: no kind/apiVersion keys at all.
    const doc = JSON.parse(encodeSnapshot(body));
    expect(doc.version).toBe(1);
    expect(doc.providerRoutes[0]).not.toHaveProperty('kind');
    const decoded = decodeSnapshot(JSON.stringify(doc));
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    expect(decoded.value.providerRoutes[0]).not.toHaveProperty('kind');
    expect(decoded.value.providerRoutes[0]).not.toHaveProperty('apiVersion');
    expect(decoded.value.checksum).toBe(doc.checksum);
  });

  it('round-trips a delta upserting an azure route', () => {
    const d = delta(3, { upserts: { providerRoutes: [azureRoute] } });
    const decoded = decodeDelta(encodeDelta(d));
    expect(decoded.ok).toBe(true);
    if (decoded.ok) expect(decoded.value.upserts.providerRoutes).toEqual([azureRoute]);
  });

  it('refuses an unknown kind or a malformed apiVersion', () => {
    for (const bad of [
      { ...azureRoute, kind: 'bedrock' },
      { ...azureRoute, apiVersion: 'latest' },
    ]) {
      const doc = JSON.parse(encodeSnapshot(snapshot()));
      doc.providerRoutes = [bad];
      doc.checksum = computeChecksum(doc);
      expect(decodeSnapshot(JSON.stringify(doc))).toMatchObject({ ok: false, reason: 'invalid' });
    }
  });
});
