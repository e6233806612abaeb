import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ClientAddress,
  createClientAddress,
  trustedProxies,
} from '../src/lib/client-address.ts';

/**
 * Whom failed authentications count against, read off real connections: the test connects from
 * chosen loopback addresses (127.0.0.x) and sends `x-forwarded-for` as a client or a proxy would.
 */
describe('client address behind trusted proxies (TOLLGATE_TRUSTED_PROXIES)', () => {
  let server: Server;
  let port = 0;
  /** The resolver the server answers with, per test. */
  let resolve: ClientAddress = () => '';
  beforeAll(async () => {
    server = createServer((req, res) => res.end(resolve(req)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const ask = (
    trusted: string,
    from: string,
    forwardedFor?: string | string[],
  ): Promise<string> => {
    resolve = createClientAddress(trustedProxies(trusted));
    return new Promise((done, fail) => {
      const req = request(
        {
          port,
          host: '127.0.0.1',
          localAddress: from,
          headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
        },
        (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => done(text));
        },
      );
      req.on('error', fail);
      req.end();
    });
  };

  it('an untrusted peer is the client, whatever it claims', async () => {
    expect(await ask('none', '127.0.0.2')).toBe('127.0.0.2');
    expect(await ask('none', '127.0.0.2', '198.51.100.7')).toBe('127.0.0.2');
    expect(await ask('10.0.0.0/8', '127.0.0.2', '198.51.100.7')).toBe('127.0.0.2');
  });

  it('behind a trusted peer: the rightmost hop it did not trust', async () => {
    expect(await ask('loopback', '127.0.0.2', '198.51.100.7')).toBe('198.51.100.7');
    // What a client wrote itself stands left of what the trusted proxy appended: not believed.
    expect(await ask('loopback', '127.0.0.2', '6.6.6.6, 198.51.100.7')).toBe('198.51.100.7');
    // A chain of trusted proxies is walked through.
    expect(await ask('127.0.0.2, 10.0.0.0/8', '127.0.0.2', '6.6.6.6, 198.51.100.7, 10.1.2.3')).toBe(
      '198.51.100.7',
    );
    // Only the trusted ones: 10.1.2.3 is not trusted here, so it is the client.
    expect(await ask('127.0.0.2', '127.0.0.2', '198.51.100.7, 10.1.2.3')).toBe('10.1.2.3');
    // Repeated headers are one list; ports and brackets are dropped; IPv6 works.
    expect(await ask('loopback', '127.0.0.2', ['6.6.6.6', '198.51.100.7:4431'])).toBe(
      '198.51.100.7',
    );
    expect(await ask('loopback', '127.0.0.2', '[2001:db8::5]:443')).toBe('2001:db8::5');
    expect(await ask('loopback', '127.0.0.2', '2001:db8::6')).toBe('2001:db8::6');
    // Every hop trusted: the leftmost one.
    expect(await ask('loopback', '127.0.0.2', '127.0.0.9')).toBe('127.0.0.9');
  });

  it('a hop that is no address ends the walk at the proxy that wrote it', async () => {
    expect(await ask('loopback', '127.0.0.2', 'unknown')).toBe('127.0.0.2');
    expect(await ask('loopback', '127.0.0.2', '198.51.100.7, garbage')).toBe('127.0.0.2');
    expect(await ask('loopback', '127.0.0.2', '')).toBe('127.0.0.2');
  });

  it('refuses entries that are no address, range, loopback or none', () => {
    for (const bad of [
      '',
      ' , ',
      'localhost',
      '10.0.0.0/33',
      '::/129',
      '10.0.0.1/8/1',
      '10.0.0/8',
    ]) {
      expect(() => trustedProxies(bad), bad).toThrow();
    }
    expect(() => trustedProxies('none, loopback')).toThrow('none');
    expect(trustedProxies('10.0.0.0/8, fd00::/8, 192.0.2.1, loopback').check('10.9.9.9')).toBe(
      true,
    );
    expect(trustedProxies('none').check('127.0.0.1')).toBe(false);
  });
});
