import { describe, expect, it } from 'vitest';
import {
  computeChecksum,
  decodeDelta,
  decodePolicyMessage,
  decodeSnapshot,
  encodeDelta,
  encodeSnapshot,
  PolicyEncodeError,
  snapshotRevisionOf,
} from '../src/index.ts';
import { delta, hashOf, key, snapshot, subAccount } from './fixtures.ts';

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
