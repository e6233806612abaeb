/** `http://host:port` with an IPv6 address bracketed (`http://[::1]:8080`), as logged. */
export function hostUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The base URL another part of this process reaches a server listening on `host` at (a wildcard
 * address is reached on loopback). */
export function localUrl(host: string, port: number): string {
  return hostUrl(host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host, port);
}
