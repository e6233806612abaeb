import { describe, expect, it } from 'vitest';
import {
  findPrivateAddress,
  isPrivateAddress,
  isPrivateHost,
  PRIVATE_ADDRESS_CODE,
  publicOnlyLookup,
} from '../src/private-address.ts';

const host = (url: string) => new URL(url).hostname;

describe('private address classification (SSRF guard of webhooks and BYOK base URLs)', () => {
  it('refuses loopback, private, link-local, unique-local, unspecified, multicast, reserved', () => {
    for (const a of [
      '127.0.0.1',
      '127.255.0.9',
      '10.0.0.1',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.0.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '192.0.0.8',
      '198.18.0.1',
      '224.0.0.1',
      '239.255.255.250',
      '240.0.0.1',
      '255.255.255.255',
      '::',
      '::1',
      'fc00::1',
      'fd12:3456::1',
      'fe80::1',
      'fe80::1%eth0',
      'fec0::1',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:a9fe:a9fe',
      '::127.0.0.1',
      '64:ff9b::10.0.0.1',
      '2002:7f00:1::',
      // Special-purpose IPv6 outside the internet (security audit): local-use NAT64, SIIT,
      // benchmarking, discard-only, SRv6, ORCHID, Teredo, unassigned space.
      '64:ff9b:1::a00:1',
      '::ffff:0:7f00:1',
      '::ffff:0:10.0.0.1',
      '2001:2::1',
      '100::1',
      '5f00::1',
      '2001:10::1',
      '2001:20::1',
      '2001::1',
      '4000::1',
      'e000::1',
    ]) {
      expect(isPrivateAddress(a), a).toBe(true);
    }
  });

  it('allows public addresses, documentation ranges included', () => {
    for (const a of [
      '8.8.8.8',
      '1.1.1.1',
      '172.32.0.1',
      '100.128.0.1',
      '192.0.2.1',
      '198.51.100.7',
      '203.0.113.10',
      '2606:4700::1111',
      '2001:db8::1',
      '::ffff:8.8.8.8',
      '64:ff9b::808:808',
      '2002:808:808::',
      '::ffff:0:808:808',
      '2a00:1450:4001::1',
      '2001:200::1',
      '3fff::1',
    ]) {
      expect(isPrivateAddress(a), a).toBe(false);
    }
    expect(isPrivateAddress('example.com')).toBe(false);
  });

  it('reads URL host names: brackets, local names, numeric IPv4 forms the URL parser normalizes', () => {
    for (const u of [
      'http://[::1]:80/',
      'http://[::ffff:127.0.0.1]/',
      'http://localhost/',
      'http://LocalHost./',
      'http://a.b.localhost/',
      'http://metadata.google.internal/',
      'http://2130706433/',
      'http://0x7f.1/',
      'http://0177.0.0.1/',
      'http://127.1/',
    ]) {
      expect(isPrivateHost(host(u)), u).toBe(true);
    }
    for (const u of ['https://api.openai.com/v1', 'https://8.8.8.8/', 'https://[2606:4700::1]/'])
      expect(isPrivateHost(host(u)), u).toBe(false);
  });

  it('findPrivateAddress resolves names; an unresolvable name is left to the connect-time check', async () => {
    expect(await findPrivateAddress('[::1]')).toBe('::1');
    expect(await findPrivateAddress('localhost')).toBe('localhost');
    expect(await findPrivateAddress('8.8.8.8')).toBeNull();
    expect(await findPrivateAddress('no-such-host.invalid')).toBeNull();
  });

  it('publicOnlyLookup fails on a name resolving to a private address', async () => {
    const err = await new Promise<NodeJS.ErrnoException | null>((resolve) =>
      publicOnlyLookup('localhost', { all: true }, (e) => resolve(e)),
    );
    expect(err?.code).toBe(PRIVATE_ADDRESS_CODE);
  });
});
