/**
 * Incremental Server-Sent Events splitter: bytes in, whole events out, as soon as each event's
 * blank line arrives (no other buffering). Line endings (`\r\n`, `\n`, a bare `\r`) are normalised
 * to `\n`; a `\r\n` split across chunks is handled because normalisation runs on the pending text.
 */
export interface SseEvent {
  /** The event block as received (normalised line endings, no trailing blank line). */
  raw: string;
  /** Joined `data:` lines; null when the event has none (comments, keep-alives). */
  data: string | null;
}

export function createSseSplitter() {
  // UTF-8 decoding by hand (Buffer#toString up to the last complete sequence) rather than a
  // TextDecoder per stream, whose construction is comparatively expensive. Invalid bytes become
  // U+FFFD either way; a leading BOM is dropped, as TextDecoder does.
  let tail: Buffer | null = null;
  let started = false;
  let pending = '';
  const decode = (chunk: Buffer, final: boolean): string => {
    const bytes = tail === null ? chunk : Buffer.concat([tail, chunk]);
    const cut = final ? bytes.length : bytes.length - incompleteTail(bytes);
    tail = cut < bytes.length ? bytes.subarray(cut) : null;
    let text = bytes.toString('utf8', 0, cut);
    if (!started && text.length > 0) {
      started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    return text;
  };

  function parse(raw: string): SseEvent {
    let data: string | null = null;
    for (const line of raw.split('\n')) {
      if (!line.startsWith('data:')) continue;
      const value = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
      data = data === null ? value : `${data}\n${value}`;
    }
    return { raw, data };
  }

  // CRLF, or a bare CR (legal SSE too), ends a line. A chunk ending in CR ends its line at once; a
  // LF opening the next chunk is then the second half of that CRLF and is dropped.
  let afterCR = false;
  const append = (decoded: string) => {
    let text = decoded;
    if (afterCR && text.charCodeAt(0) === 10) text = text.slice(1);
    if (decoded.length > 0) afterCR = decoded.charCodeAt(decoded.length - 1) === 13;
    pending += text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text;
  };

  function drain(): SseEvent[] {
    const events: SseEvent[] = [];
    let at = pending.indexOf('\n\n');
    while (at !== -1) {
      const raw = pending.slice(0, at);
      pending = pending.slice(at + 2);
      if (raw.length > 0) events.push(parse(raw));
      at = pending.indexOf('\n\n');
    }
    return events;
  }

  return {
    /** Whether part of an event (or an undecoded byte sequence) is held back. */
    holding(): boolean {
      return pending.length > 0 || tail !== null;
    },
    push(chunk: Buffer): SseEvent[] {
      append(decode(chunk, false));
      return drain();
    },
    /** What is left at the end of the stream (an event without its final blank line). */
    end(): SseEvent[] {
      if (tail !== null) append(decode(Buffer.alloc(0), true));
      const events = drain();
      const rest = pending.trim();
      pending = '';
      if (rest.length > 0) events.push(parse(rest));
      return events;
    },
  };
}

/**
 * The lines of an event other than its data (`event:`, `id:`, `retry:`, comments), each ending in
 * a newline, for an event re-encoded with new data; '' for the usual lone `data: …` line (told by
 * its length alone: any other line, or a second data line, makes `raw` longer).
 */
export function sseFields(ev: SseEvent): string {
  if (ev.data !== null && ev.raw.length === ev.data.length + 6) return '';
  let fields = '';
  for (const line of ev.raw.split('\n')) {
    if (line.length > 0 && !line.startsWith('data:')) fields += `${line}\n`;
  }
  return fields;
}

/** Bytes at the end of `chunk` that start a UTF-8 sequence the chunk does not complete (0-3). */
function incompleteTail(chunk: Buffer): number {
  const n = chunk.length;
  for (let i = n - 1; i >= 0 && i >= n - 3; i--) {
    const b = chunk[i]!;
    if (b < 0x80) return 0;
    if (b >= 0xc0) {
      const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
      return n - i < need ? n - i : 0;
    }
  }
  return 0;
}
