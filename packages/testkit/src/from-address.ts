import { request } from 'node:http';

/**
 * `GET <url>` with `Authorization: Bearer <key>`, connected from `localAddress` (any 127.0.0.x:
 * each loopback address is its own client to whatever counts per client). Answers the status, the
 * `Retry-After` header and the error code of the JSON body.
 */
export function getFromAddress(
  localAddress: string,
  url: string,
  key: string,
): Promise<{ status: number; retryAfter: string | undefined; code: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { localAddress, headers: { authorization: `Bearer ${key}` } },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: res.headers['retry-after'] as string | undefined,
            code: JSON.parse(text).error?.code,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}
