import { type EndpointSpec, isRecord, promptCompletionUsage } from '../types.ts';

function choiceText(choices: unknown, field: 'message' | 'delta'): string {
  if (!Array.isArray(choices)) return '';
  let text = '';
  for (const c of choices) {
    if (!isRecord(c) || !isRecord(c[field])) continue;
    const m = c[field] as Record<string, unknown>;
    if (typeof m.content === 'string') text += m.content;
    if (typeof m.refusal === 'string') text += m.refusal;
    if (typeof m.reasoning_content === 'string') text += m.reasoning_content;
    if (Array.isArray(m.tool_calls)) text += JSON.stringify(m.tool_calls);
  }
  return text;
}

export const chatCompletions: EndpointSpec = {
  path: '/v1/chat/completions',
  upstreamPath: '/chat/completions',
  kind: 'chat',
  maxTokenFields: ['max_completion_tokens', 'max_tokens'],
  canStream: true,
  streamUsageOption: true,
  validate(body) {
    if (!Array.isArray(body.messages) || body.messages.length === 0) {
      return { message: "'messages' must be a non-empty array", param: 'messages' };
    }
    if (!body.messages.every(isRecord)) {
      return { message: "every item of 'messages' must be an object", param: 'messages' };
    }
    return null;
  },
  usageOf: (json) => (isRecord(json) ? promptCompletionUsage(json.usage) : null),
  textOf: (json) => (isRecord(json) ? choiceText(json.choices, 'message') : ''),
  streamEvent(data) {
    if (!isRecord(data)) return {};
    const usage = promptCompletionUsage(data.usage) ?? undefined;
    const choices = Array.isArray(data.choices) ? data.choices : [];
    return {
      text: choiceText(choices, 'delta'),
      usage,
      usageOnly: usage !== undefined && choices.length === 0,
      hasUsageField: 'usage' in data,
    };
  },
};
