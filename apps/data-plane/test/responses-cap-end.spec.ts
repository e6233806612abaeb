import { describe, expect, it } from 'vitest';
import { ResponsesStreamReader } from '../src/providers/openai/responses.ts';

/** The events a cut Responses stream ends with, as the client receives them. */
function capEnd(events: Record<string, unknown>[]) {
  const reader = new ResponsesStreamReader();
  for (const e of events) reader.event(e);
  const out = reader.capEnd({ inputTokens: 7, outputTokens: 5 });
  return out
    .split('\n\n')
    .filter((b) => b !== '')
    .map((b) => {
      const [event, data] = b.split('\n');
      const json = JSON.parse(data!.slice('data: '.length));
      expect(event).toBe(`event: ${json.type}`);
      return json;
    });
}

describe('Responses stream cut by the cap guard', () => {
  it('an item done before the cut is kept as sent; the open one is closed with its parts as streamed', () => {
    const reasoning = { id: 'rs_1', type: 'reasoning', summary: [] };
    const done = { ...reasoning, summary: [{ type: 'summary_text', text: 'thought' }] };
    const message = { id: 'msg_1', type: 'message', status: 'in_progress', role: 'assistant' };
    const ended = capEnd([
      { type: 'response.created', sequence_number: 0, response: { id: 'r', output: [] } },
      { type: 'response.output_item.added', sequence_number: 1, output_index: 0, item: reasoning },
      {
        type: 'response.reasoning_summary_text.delta',
        sequence_number: 2,
        output_index: 0,
        summary_index: 0,
        delta: 'thought',
      },
      { type: 'response.output_item.done', sequence_number: 3, output_index: 0, item: done },
      {
        type: 'response.output_item.added',
        sequence_number: 4,
        output_index: 1,
        item: { ...message, content: [] },
      },
      ...[0, 1].map((c) => ({
        type: 'response.content_part.added',
        sequence_number: 5 + c,
        output_index: 1,
        content_index: c,
        part:
          c === 0
            ? { type: 'output_text', annotations: [], text: '' }
            : { type: 'refusal', refusal: '' },
      })),
      ...['He', 'llo'].map((delta, i) => ({
        type: 'response.output_text.delta',
        sequence_number: 7 + i,
        output_index: 1,
        content_index: 0,
        delta,
      })),
      {
        type: 'response.refusal.delta',
        sequence_number: 9,
        output_index: 1,
        content_index: 1,
        delta: 'no',
      },
    ]);
    const content = [
      { type: 'output_text', annotations: [], text: 'Hello' },
      { type: 'refusal', refusal: 'no' },
    ];
    const cut = { ...message, status: 'incomplete', content };
    expect(ended.map((e) => [e.sequence_number, e.type])).toEqual([
      [10, 'response.output_text.done'],
      [11, 'response.content_part.done'],
      [12, 'response.refusal.done'],
      [13, 'response.content_part.done'],
      [14, 'response.output_item.done'],
      [15, 'response.incomplete'],
    ]);
    expect(ended[0]).toMatchObject({ item_id: 'msg_1', output_index: 1, text: 'Hello' });
    expect(ended[4].item).toEqual(cut);
    expect(ended[5].response).toEqual({
      id: 'r',
      status: 'incomplete',
      incomplete_details: { reason: 'max_output_tokens' },
      output: [done, cut],
      usage: {
        input_tokens: 7,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: 5,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: 12,
      },
    });
  });

  it('an item announced only in the response (no output_item.added) gets its text too', () => {
    const item = {
      id: 'msg_1',
      type: 'message',
      status: 'in_progress',
      role: 'assistant',
      content: [{ type: 'output_text', annotations: [], text: '' }],
    };
    const ended = capEnd([
      { type: 'response.created', sequence_number: 0, response: { id: 'r', output: [item] } },
      ...['a', 'b'].map((delta, i) => ({
        type: 'response.output_text.delta',
        sequence_number: 1 + i,
        output_index: 0,
        content_index: 0,
        delta,
      })),
    ]);
    expect(ended.at(-1).response.output).toEqual([
      {
        ...item,
        status: 'incomplete',
        content: [{ type: 'output_text', annotations: [], text: 'ab' }],
      },
    ]);
  });
});
