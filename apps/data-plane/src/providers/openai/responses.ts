import { type EndpointSpec, inputOutputUsage, isRecord } from '../types.ts';

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
  streamEvent(data) {
    if (!isRecord(data)) return {};
    if (
      typeof data.type === 'string' &&
      TEXT_DELTAS.has(data.type) &&
      typeof data.delta === 'string'
    ) {
      return { text: data.delta };
    }
    if (isRecord(data.response) && data.response.usage !== undefined) {
      const usage = inputOutputUsage(data.response.usage) ?? undefined;
      return { usage };
    }
    return {};
  },
};
