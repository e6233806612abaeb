import {
  type CapEndUsage,
  type EndpointSpec,
  inputOutputUsage,
  isRecord,
  type StreamEventInfo,
  type StreamReader,
} from '../types.ts';

function outputText(response: unknown): string {
  if (!isRecord(response) || !Array.isArray(response.output)) return '';
  let text = '';
  for (const item of response.output) {
    if (!isRecord(item)) continue;
    // A function call's output is its arguments.
    if (typeof item.arguments === 'string') text += item.arguments;
    if (!Array.isArray(item.content)) continue;
    for (const part of item.content) {
      if (isRecord(part) && typeof part.text === 'string') text += part.text;
    }
  }
  return text;
}

/** Stream events whose `delta` is generated output (text, a function call's arguments, a refusal,
 * reasoning): what the cap guard and an estimate without usage count. */
const TEXT_DELTAS = new Set([
  'response.output_text.delta',
  'response.function_call_arguments.delta',
  'response.custom_tool_call_input.delta',
  'response.refusal.delta',
  'response.reasoning_text.delta',
  'response.reasoning_summary_text.delta',
]);

/** The events that end a Responses stream. */
const FINAL_EVENTS = new Set(['response.completed', 'response.incomplete', 'response.failed']);

/** Output items a cut stream reports at most (an index from the upstream never sizes an array
 * beyond this). */
const MAX_ITEMS = 1024;

const index = (value: unknown): number | null =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < MAX_ITEMS
    ? value
    : null;

/** Item types whose `status` says `incomplete` when the answer was cut inside them. */
const CUT_STATUS = new Set(['message', 'function_call', 'reasoning']);

/** One output item of a stream as far as it was streamed. Created once per item (not per event). */
class ItemSoFar {
  /** As announced (`output_item.added`, or the response's own output), or final when `done`. */
  item: Record<string, unknown>;
  done = false;
  /** Content parts as announced or final (`content_part.added`/`.done`), by content_index. */
  parts: (Record<string, unknown> | undefined)[] = [];
  partDone: boolean[] = [];
  /** Text streamed into content parts (output text, refusal, reasoning text), by content_index. */
  text: (string | undefined)[] = [];
  /** Reasoning summary text streamed, by summary_index. */
  summary: (string | undefined)[] = [];
  /** A function call's arguments or a custom tool call's input, as streamed. */
  whole: string | undefined = undefined;

  constructor(item: Record<string, unknown>) {
    this.item = item;
  }

  /** The item with what was streamed into it, cut (`status: incomplete`). */
  cut(): Record<string, unknown> {
    const item: Record<string, unknown> = { ...this.item };
    if (typeof item.type === 'string' && CUT_STATUS.has(item.type)) item.status = 'incomplete';
    if (this.parts.length > 0 || this.text.length > 0) {
      const base = Array.isArray(item.content) ? item.content : [];
      const n = Math.max(this.parts.length, this.text.length, base.length);
      const content: Record<string, unknown>[] = [];
      for (let i = 0; i < n; i++) {
        const text = this.text[i];
        const announced = this.parts[i] ?? base[i];
        let part: Record<string, unknown>;
        if (isRecord(announced)) part = announced;
        else if (text === undefined) continue;
        else if (item.type === 'reasoning') part = { type: 'reasoning_text', text: '' };
        else part = { type: 'output_text', annotations: [], logprobs: [], text: '' };
        if (text !== undefined)
          part = part.type === 'refusal' ? { ...part, refusal: text } : { ...part, text };
        content.push(part);
      }
      item.content = content;
    }
    if (this.summary.length > 0) {
      const base = Array.isArray(item.summary) ? item.summary : [];
      const summary: Record<string, unknown>[] = [];
      for (let i = 0; i < this.summary.length; i++) {
        const announced = base[i];
        const text = this.summary[i];
        if (isRecord(announced))
          summary.push(text === undefined ? announced : { ...announced, text });
        else if (text !== undefined) summary.push({ type: 'summary_text', text });
      }
      item.summary = summary;
    }
    if (this.whole !== undefined) {
      if (item.type === 'custom_tool_call') item.input = this.whole;
      else item.arguments = this.whole;
    }
    return item;
  }
}

/**
 * Reads one Responses stream: usage from the events carrying the response, and, for the cap guard,
 * the response as last announced, the last sequence number and the output items as streamed so
 * far (their text kept as it passes, one string per content part) — so a cut answer ends as
 * OpenAI ends one at max_output_tokens: the open items closed (`status: incomplete`) with their
 * text, then `response.incomplete` carrying them and the usage billed. Plain fields and prototype
 * methods: no closures per stream.
 */
export class ResponsesStreamReader implements StreamReader {
  private response: Record<string, unknown> | null = null;
  private sequence = -1;
  private items: (ItemSoFar | undefined)[] = [];

  event(data: unknown): StreamEventInfo {
    if (!isRecord(data)) return {};
    const { type, delta } = data;
    if (typeof data.sequence_number === 'number') this.sequence = data.sequence_number;
    if (typeof type === 'string' && typeof delta === 'string' && TEXT_DELTAS.has(type)) {
      this.streamed(type, data, delta);
      return { text: delta };
    }
    if (type === 'response.output_item.added' || type === 'response.output_item.done') {
      const i = index(data.output_index);
      if (i !== null && isRecord(data.item)) {
        const known = this.items[i];
        const done = type === 'response.output_item.done';
        // A finished item is final as sent: what was kept of its text is let go.
        if (known === undefined || done) this.items[i] = new ItemSoFar(data.item);
        else known.item = data.item;
        if (done) this.items[i]!.done = true;
      }
      return {};
    }
    if (type === 'response.content_part.added' || type === 'response.content_part.done') {
      const at = this.item(data);
      const i = index(data.content_index);
      if (at !== undefined && i !== null && isRecord(data.part)) {
        at.parts[i] = data.part;
        if (type === 'response.content_part.done') {
          at.partDone[i] = true;
          at.text[i] = undefined;
        }
      }
      return {};
    }
    if (isRecord(data.response)) {
      this.response = data.response;
      const final = typeof type === 'string' && FINAL_EVENTS.has(type);
      if (data.response.usage !== undefined) {
        return { usage: inputOutputUsage(data.response.usage) ?? undefined, final };
      }
      if (final) return { final };
    }
    return {};
  }

  /** The item an event names by output_index; one announced by the response itself, or first
   * met in a delta, is started here. */
  private item(data: Record<string, unknown>): ItemSoFar | undefined {
    const i = index(data.output_index);
    if (i === null) return undefined;
    const known = this.items[i];
    if (known !== undefined) return known;
    const output = this.response?.output;
    const announced = Array.isArray(output) ? output[i] : undefined;
    const started = new ItemSoFar(isRecord(announced) ? announced : unannounced(data));
    this.items[i] = started;
    return started;
  }

  private streamed(type: string, data: Record<string, unknown>, delta: string) {
    const at = this.item(data);
    if (at === undefined || at.done) return;
    if (
      type === 'response.output_text.delta' ||
      type === 'response.refusal.delta' ||
      type === 'response.reasoning_text.delta'
    ) {
      const i = index(data.content_index);
      if (i !== null) at.text[i] = (at.text[i] ?? '') + delta;
    } else if (type === 'response.reasoning_summary_text.delta') {
      const i = index(data.summary_index);
      if (i !== null) at.summary[i] = (at.summary[i] ?? '') + delta;
    } else at.whole = (at.whole ?? '') + delta;
  }

  capEnd(billed: CapEndUsage): string {
    const response = this.response;
    if (response === null) return '';
    let out = '';
    let sequence = this.sequence;
    const send = (type: string, fields: Record<string, unknown>) => {
      sequence += 1;
      const event = { type, sequence_number: sequence, ...fields };
      out += `event: ${type}\ndata: ${JSON.stringify(event)}\n\n`;
    };
    const announced = Array.isArray(response.output) ? response.output : [];
    const output: unknown[] = [];
    for (let i = 0; i < Math.max(this.items.length, announced.length); i++) {
      const at = this.items[i];
      if (at === undefined) {
        if (announced[i] !== undefined) output.push(announced[i]);
        continue;
      }
      if (at.done) {
        output.push(at.item);
        continue;
      }
      // As OpenAI closes the item the limit cut: its parts, then the item itself.
      const item = at.cut();
      const ids = { item_id: item.id, output_index: i };
      if (Array.isArray(item.content) && item.type === 'message') {
        item.content.forEach((part: Record<string, unknown>, c) => {
          if (at.partDone[c] === true) return;
          const where = { ...ids, content_index: c };
          if (part.type === 'output_text') {
            send('response.output_text.done', { ...where, text: part.text, logprobs: [] });
          } else if (part.type === 'refusal') {
            send('response.refusal.done', { ...where, refusal: part.refusal });
          }
          send('response.content_part.done', { ...where, part });
        });
      } else if (item.type === 'function_call') {
        send('response.function_call_arguments.done', { ...ids, arguments: item.arguments });
      }
      send('response.output_item.done', { output_index: i, item });
      output.push(item);
    }
    send('response.incomplete', {
      response: {
        ...response,
        status: 'incomplete',
        incomplete_details: { reason: 'max_output_tokens' },
        output,
        usage: {
          input_tokens: billed.inputTokens,
          input_tokens_details: { cached_tokens: 0 },
          output_tokens: billed.outputTokens,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: billed.inputTokens + billed.outputTokens,
        },
      },
    });
    return out;
  }
}

/** An item first met in one of its events (an upstream that did not announce it). */
function unannounced(data: Record<string, unknown>): Record<string, unknown> {
  switch (data.type) {
    case 'response.function_call_arguments.delta':
      return { id: data.item_id, type: 'function_call' };
    case 'response.custom_tool_call_input.delta':
      return { id: data.item_id, type: 'custom_tool_call' };
    case 'response.reasoning_text.delta':
    case 'response.reasoning_summary_text.delta':
      return { id: data.item_id, type: 'reasoning', summary: [] };
    default:
      return { id: data.item_id, type: 'message', role: 'assistant', content: [] };
  }
}

/** Responses streams always end with `response.completed` (or `.incomplete`/`.failed`) carrying
 * usage, so there is nothing to inject or strip. */
export const responses: EndpointSpec = {
  path: '/v1/responses',
  upstreamPath: '/responses',
  kind: 'responses',
  maxTokenFields: ['max_output_tokens'],
  canStream: true,
  streamUsageOption: false,
  validate(body) {
    const i = body.input;
    if (i === undefined && typeof body.previous_response_id === 'string') return null;
    const ok = typeof i === 'string' || Array.isArray(i);
    return ok ? null : { message: "'input' must be a string or an array", param: 'input' };
  },
  usageOf: (json) => (isRecord(json) ? inputOutputUsage(json.usage) : null),
  textOf: outputText,
  streamEvent: (data) => new ResponsesStreamReader().event(data),
  streamReader: () => new ResponsesStreamReader(),
};
