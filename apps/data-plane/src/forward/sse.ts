/**
 * Incremental Server-Sent Events splitter: bytes in, whole events out, as soon as each event's
 * blank line arrives (no other buffering). Line endings are normalised to `\n`; a `\r\n` split
 * across chunks is handled because normalisation runs on the pending text.
 */
export interface SseEvent {
  /** The event block as received (normalised line endings, no trailing blank line). */
  raw: string;
  /** Joined `data:` lines; null when the event has none (comments, keep-alives). */
  data: string | null;
}

export function createSseSplitter() {
  const decoder = new TextDecoder('utf-8');
  let pending = '';

  function parse(raw: string): SseEvent {
    let data: string | null = null;
    for (const line of raw.split('\n')) {
      if (!line.startsWith('data:')) continue;
      const value = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
      data = data === null ? value : `${data}\n${value}`;
    }
    return { raw, data };
  }

  function drain(): SseEvent[] {
    if (pending.includes('\r')) pending = pending.replace(/\r\n/g, '\n');
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
    push(chunk: Buffer): SseEvent[] {
      pending += decoder.decode(chunk, { stream: true });
      return drain();
    },
    /** What is left at the end of the stream (an event without its final blank line). */
    end(): SseEvent[] {
      pending += decoder.decode();
      const events = drain();
      const rest = pending.trim();
      pending = '';
      if (rest.length > 0) events.push(parse(rest));
      return events;
    },
  };
}
