import { lookup } from 'node:dns';
import { isIP } from 'node:net';

/**
 * SSRF guard shared by the control plane (webhook URLs, BYOK provider base URLs) and the data plane
 * (connections to BYOK base URLs): which hosts and addresses are not the public internet.
 *
 * Refused: unspecified, loopback, private (RFC 1918), shared/CGNAT, link-local (cloud metadata at
 * 169.254.169.254), benchmarking (198.18/15), IETF protocol assignments (192.0.0/24), multicast,
 * reserved (240/4) and broadcast IPv4. In IPv6 every form embedding an IPv4 address (mapped
 * ::ffff:0:0/96, SIIT ::ffff:0:0:0/96, compatible ::/96 — :: and ::1 among them —, NAT64
 * 64:ff9b::/96, 6to4 2002::/16) is classified by that address; otherwise only global unicast
 * (2000::/3) is public, less the IETF protocol assignments 2001::/23 (Teredo, benchmarking, ORCHID):
 * unique-local, link-local, site-local, multicast, discard-only (100::/64), local-use NAT64
 * (64:ff9b:1::/48), SRv6 (5f00::/16) and everything unassigned are refused. Documentation ranges
 * (TEST-NET 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32, 3fff::/20) are not routed
 * anywhere, so they reach nothing inside either: allowed.
 */
export function isPrivateAddress(address: string): boolean {
  const v = isIP(address);
  if (v === 4) return privateV4(address.split('.').map(Number));
  if (v === 6) return privateV6(address);
  return false;
}

/**
 * A URL's host name (brackets of an IPv6 literal allowed) that names a non-public address literally,
 * or a name that is local by definition: `localhost`, `*.localhost`, `*.internal` (cloud metadata
 * names such as metadata.google.internal). Other names must be resolved to be judged.
 */
export function isPrivateHost(hostname: string): boolean {
  const host = hostname
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost') || host.endsWith('.internal'))
    return true;
  return isPrivateAddress(host);
}

function privateV4([a = 0, b = 0, c = 0]: number[]): boolean {
  return (
    a === 0 || // "this network", 0.0.0.0
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) || // shared address space (CGNAT)
    (a === 169 && b === 254) || // link-local, cloud metadata
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0 && c === 0) || // IETF protocol assignments
    (a === 198 && (b === 18 || b === 19)) || // benchmarking, used inside some networks
    a >= 224 // multicast 224/4, reserved 240/4, broadcast
  );
}

/** The eight 16-bit groups of an IPv6 address (a trailing dotted IPv4 part included). */
function groupsOf(address: string): number[] {
  let text = address.toLowerCase().replace(/%.*$/, '');
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [, a, b, c, d] = dotted.map(Number);
    text = `${text.slice(0, dotted.index)}${((a! << 8) | b!).toString(16)}:${((c! << 8) | d!).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const part = (s: string) => (s === '' ? [] : s.split(':').map((g) => Number.parseInt(g, 16)));
  const front = part(head);
  const back = tail === undefined ? [] : part(tail);
  return [...front, ...new Array(8 - front.length - back.length).fill(0), ...back];
}

function privateV6(address: string): boolean {
  const g = groupsOf(address);
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  const v4 = (hi: number, lo: number) => [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff];
  const zeroTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible; :: and ::1 among them).
  if (zeroTo(5) && g5 === 0xffff) return privateV4(v4(g6, g7));
  if (zeroTo(6)) return privateV4(v4(g6, g7));
  // SIIT ::ffff:0:a.b.c.d: translated to the embedded IPv4 address.
  if (zeroTo(4) && g4 === 0xffff && g5 === 0) return privateV4(v4(g6, g7));
  // NAT64 64:ff9b::a.b.c.d: the translator reaches the embedded IPv4 address.
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0)
    return privateV4(v4(g6, g7));
  // 6to4 2002:aabb:ccdd::/48: the embedded IPv4 address is the relay's target.
  if (g0 === 0x2002) return privateV4(v4(g1, g2));
  // Only global unicast 2000::/3 is the internet (unique-local fc00::/7, link-local fe80::/10,
  // multicast ff00::/8, discard-only 100::/64, local-use NAT64 64:ff9b:1::/48, SRv6 5f00::/16 …
  // all lie outside it), less the IETF protocol assignments 2001::/23.
  if ((g0 & 0xe000) !== 0x2000) return true;
  return g0 === 0x2001 && g1 < 0x200;
}

type LookupAll = { address: string; family: number }[];

/** Errors of refused addresses carry this code (never retried as a network error). */
export const PRIVATE_ADDRESS_CODE = 'ERR_PRIVATE_ADDRESS';

export function privateAddressError(host: string, address: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(
    `refused: ${host} is (or resolves to) ${address}, a private, loopback or link-local address`,
  );
  err.code = PRIVATE_ADDRESS_CODE;
  return err;
}

/**
 * A `lookup` for net/http(s) connections that fails when a name resolves to any non-public address
 * (a name public at registration may point inside later: DNS rebinding). Takes the `all` and
 * `family` options as dns.lookup does. IP literals never reach a lookup: check those separately.
 */
export function publicOnlyLookup(
  hostname: string,
  options: { family?: number | string; all?: boolean; hints?: number },
  callback: (
    err: NodeJS.ErrnoException | null,
    address: string | LookupAll,
    family?: number,
  ) => void,
): void {
  const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family;
  lookup(
    hostname,
    { family: (family as 0 | 4 | 6 | undefined) ?? 0, hints: options.hints, all: true },
    (err, addresses) => {
      if (err) return callback(err, options.all ? [] : '');
      const bad = addresses.find((a) => isPrivateAddress(a.address));
      if (bad !== undefined || isPrivateHost(hostname)) {
        const address = bad?.address ?? hostname;
        return callback(privateAddressError(hostname, address), options.all ? [] : '');
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    },
  );
}

/**
 * The first non-public address `hostname` names (literally, or among everything it resolves to),
 * else null. A name that does not resolve (within `timeoutMs`) is null too: the connection-time
 * check of the caller stays the guard.
 */
export async function findPrivateAddress(
  hostname: string,
  timeoutMs = 3_000,
): Promise<string | null> {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (isPrivateHost(host)) return host;
  if (isIP(host) !== 0) return null;
  const resolved = await new Promise<LookupAll>((resolve) => {
    const timer = setTimeout(() => resolve([]), timeoutMs);
    lookup(host, { all: true }, (err, addresses) => {
      clearTimeout(timer);
      resolve(err ? [] : addresses);
    });
  });
  return resolved.find((a) => isPrivateAddress(a.address))?.address ?? null;
}
