import { connect } from 'node:net';

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  /** The body parsed as JSON when it is JSON, else the text. */
  // biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field in tests
  body: any;
  /** Everything the server sent. */
  text: string;
}

/**
 * Sends `request` byte for byte on a fresh TCP connection and reads the first answer (malformed
 * HTTP that fetch would refuse to send: conflicting framing, bad header bytes, oversized heads).
 * Resolves when the server closes the connection or a complete answer (by content-length) arrived.
 */
export function rawHttp(
  url: string,
  request: string | Buffer,
  timeoutMs = 10_000,
): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      const text = Buffer.concat(chunks).toString('utf8');
      const end = text.indexOf('\r\n\r\n');
      const head = end < 0 ? text : text.slice(0, end);
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      const raw = end < 0 ? '' : text.slice(end + 4);
      let body: unknown = raw;
      try {
        body = JSON.parse(raw);
      } catch {
        // not JSON
      }
      clearTimeout(timer);
      resolve({ status: Number(statusLine.split(' ')[1] ?? 0), headers, body, text });
    };
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      const text = Buffer.concat(chunks).toString('utf8');
      const end = text.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, end))?.[1];
      if (
        end >= 0 &&
        length !== undefined &&
        Buffer.byteLength(text.slice(end + 4)) >= Number(length)
      ) {
        socket.destroy();
        done();
      }
    });
    socket.on('close', done);
    socket.on('error', () => {
      // A reset after the answer was read still resolves with what arrived.
    });
    socket.write(request);
  });
}
