import { describe, expect, it } from 'vitest';
import { withoutNullUsage } from '../src/forward/stream-relay.ts';

const strip = (data: string) => withoutNullUsage(data, JSON.parse(data));

describe('the usage: null a client did not ask for, removed from a stream event', () => {
  it('cuts it from the text when it is the last field (the bytes otherwise as sent)', () => {
    const data = '{"id":"c1","choices":[{"delta":{"content":"1e-7 \\"usage\\": x"}}],"usage":null}';
    expect(strip(data)).toBe(
      'data: {"id":"c1","choices":[{"delta":{"content":"1e-7 \\"usage\\": x"}}]}\n\n',
    );
  });

  it('re-encodes the event without it when it is elsewhere', () => {
    expect(strip('{"usage":null,"id":"c1"}')).toBe('data: {"id":"c1"}\n\n');
    expect(strip('{"id":"c1","x":{"usage":1},"usage":null}')).toBe(
      'data: {"id":"c1","x":{"usage":1}}\n\n',
    );
    // Spread over lines (an SSE event may carry several data lines): one line out.
    expect(strip('{"id":"c1",\n"usage":null}')).toBe('data: {"id":"c1"}\n\n');
  });
});
