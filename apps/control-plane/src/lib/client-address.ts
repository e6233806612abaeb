import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

/** The address a request is counted against (failed-authentication throttling). */
export type ClientAddress = (req: IncomingMessage) => string;

/** Hops of `x-forwarded-for` looked at, from the right: a longer chain is not walked further. */
const MAX_HOPS = 16;

/** `::ffff:10.0.0.1` (an IPv4 peer of a dual-stack listener) is `10.0.0.1`. */
function plain(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** One `x-forwarded-for` entry as an address: `1.2.3.4`, `1.2.3.4:5678`, `::1` or `[::1]:80`;
 * null when it is none of these. */
function hopAddress(entry: string): string | null {
  let s = entry.trim();
  if (s.startsWith('[')) s = s.slice(1, s.indexOf(']') === -1 ? s.length : s.indexOf(']'));
  else if (s.indexOf(':') !== -1 && s.indexOf(':') === s.lastIndexOf(':')) s = s.split(':')[0]!;
  return isIP(s) === 0 ? null : plain(s);
}

/**
 * The proxies whose `x-forwarded-for` is believed (`TOLLGATE_TRUSTED_PROXIES`): a comma-separated
 * list of addresses, CIDR ranges (`10.0.0.0/8`, `fd00::/8`), `loopback` (127.0.0.0/8 and ::1), or
 * `none`. Throws an Error naming the first entry that is none of these.
 */
export function trustedProxies(spec: string): BlockList {
  const list = new BlockList();
  const entries = spec
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (entries.length === 0) throw new Error('must list at least one entry (or none)');
  for (const entry of entries) {
    if (entry === 'none') {
      if (entries.length > 1) throw new Error("'none' cannot be combined with other entries");
      continue;
    }
    if (entry === 'loopback') {
      list.addSubnet('127.0.0.0', 8, 'ipv4');
      list.addSubnet('::1', 128, 'ipv6');
      continue;
    }
    const [address = '', bits, ...rest] = entry.split('/');
    const family = isIP(address);
    const max = family === 4 ? 32 : 128;
    if (family === 0 || rest.length > 0 || (bits !== undefined && !/^\d{1,3}$/.test(bits))) {
      throw new Error(`'${entry}' is not an address, a CIDR range, loopback or none`);
    }
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(address, type);
    else if (Number(bits) > max) throw new Error(`'${entry}': a /${bits} range does not exist`);
    else list.addSubnet(address, Number(bits), type);
  }
  return list;
}

/**
 * The client behind the trusted proxies: the peer itself unless it is trusted; then
 * `x-forwarded-for` from the right, each hop appended by the trusted one after it, up to the first
 * hop that is not trusted. A client cannot choose its address by sending the header itself: what
 * it wrote stands left of what a trusted proxy appended, and the walk stops before it. A data plane
 * forwarding the admin API appends its client, so failures through it count per client, not
 * against the data plane's one address.
 */
export function createClientAddress(trusted: BlockList): ClientAddress {
  const isTrusted = (address: string) =>
    trusted.check(address, isIP(address) === 4 ? 'ipv4' : 'ipv6');
  return (req) => {
    let client = plain(req.socket.remoteAddress ?? '');
    if (isIP(client) === 0 || !isTrusted(client)) return client;
    const header = req.headers['x-forwarded-for'];
    if (header === undefined) return client;
    const hops = (Array.isArray(header) ? header.join(',') : header).split(',');
    for (let i = hops.length - 1; i >= Math.max(0, hops.length - MAX_HOPS); i--) {
      const hop = hopAddress(hops[i]!);
      if (hop === null) break;
      client = hop;
      if (!isTrusted(hop)) break;
    }
    return client;
  };
}

/** The default: `x-forwarded-for` believed from loopback peers only (a data plane or a reverse
 * proxy on the same host). */
export const loopbackClientAddress: ClientAddress = createClientAddress(trustedProxies('loopback'));
