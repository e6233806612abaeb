import { describe, expect, it } from 'vitest';
import { createSseSplitter, sseFields } from '../src/forward/sse.ts';

describe('SSE splitter', () => {
  it('reports whether part of an event is held back (the relay then re-encodes)', () => {
    const s = createSseSplitter();
    expect(s.push(Buffer.from('data: 1\n\ndata: 2\n\n')).map((e) => e.data)).toEqual(['1', '2']);
    expect(s.holding()).toBe(false);
    expect(s.push(Buffer.from('data: 3\n'))).toEqual([]);
    expect(s.holding()).toBe(true);
    expect(s.push(Buffer.from('\n')).map((e) => e.data)).toEqual(['3']);
    expect(s.holding()).toBe(false);
  });

  it('holds a UTF-8 sequence split across chunks', () => {
    const s = createSseSplitter();
    const bytes = Buffer.from('data: é€😀\n\n');
    for (const cut of [7, 9, 12]) {
      const a = createSseSplitter();
      expect(a.push(bytes.subarray(0, cut))).toEqual([]);
      expect(a.holding()).toBe(true);
      expect(a.push(bytes.subarray(cut)).map((e) => e.data)).toEqual(['é€😀']);
      expect(a.holding()).toBe(false);
    }
    expect(s.push(bytes).map((e) => e.data)).toEqual(['é€😀']);
    expect(s.holding()).toBe(false);
  });
});

describe('SSE splitter line endings', () => {
  const events = 'data: {"a":1}\n\ndata: {"b":2}\n\n: ping\n\ndata: x\ndata: y\n\n';
  const expected = ['{"a":1}', '{"b":2}', null, 'x\ny'];

  it('reads LF, CRLF and bare CR streams alike, split at any byte', () => {
    for (const eol of ['\n', '\r\n', '\r']) {
      const bytes = Buffer.from(events.replaceAll('\n', eol));
      for (let cut = 0; cut <= bytes.length; cut++) {
        const s = createSseSplitter();
        const got = [
          ...s.push(bytes.subarray(0, cut)),
          ...s.push(bytes.subarray(cut)),
          ...s.end(),
        ].map((e) => e.data);
        expect(got, `${JSON.stringify(eol)} cut at ${cut}`).toEqual(expected);
      }
    }
  });

  it('delivers a bare-CR event as soon as its blank line arrives', () => {
    const s = createSseSplitter();
    expect(s.push(Buffer.from('data: 1\r\r')).map((e) => e.data)).toEqual(['1']);
  });
});

describe('SSE splitter decoding', () => {
  it('decodes every split of a multi-byte stream like one whole chunk, BOM dropped', () => {
    const bytes = Buffer.from('\uFEFFdata: a😀b€c\n\ndata: é\n\n');
    for (let cut = 0; cut <= bytes.length; cut++) {
      const s = createSseSplitter();
      const got = [...s.push(bytes.subarray(0, cut)), ...s.push(bytes.subarray(cut)), ...s.end()];
      expect(got.map((e) => e.data)).toEqual(['a😀b€c', 'é']);
    }
  });

  it('an incomplete sequence at the end of the stream becomes U+FFFD', () => {
    const s = createSseSplitter();
    const bytes = Buffer.from('data: x€');
    expect(s.push(bytes.subarray(0, bytes.length - 1))).toEqual([]);
    expect(s.end().map((e) => e.data)).toEqual(['x\uFFFD']);
  });
});

describe('SSE event fields kept when an event is re-encoded', () => {
  const fields = (raw: string) =>
    sseFields(createSseSplitter().push(Buffer.from(`${raw}\n\n`))[0]!);

  it('none for a lone data line; every other line, in order, otherwise', () => {
    expect(fields('data: {"a":1}')).toBe('');
    expect(fields('data: a\ndata: b')).toBe('');
    expect(fields('event: chunk\nid: 7\ndata: {"a":1}')).toBe('event: chunk\nid: 7\n');
    expect(fields('data:{"a":1}\nid: 7')).toBe('id: 7\n');
    expect(fields(': keep-alive\nretry: 10\ndata: x')).toBe(': keep-alive\nretry: 10\n');
  });
});
