import { type EndpointSpec, isRecord, promptCompletionUsage } from '../types.ts';

function choiceText(choices: unknown): string {
  if (!Array.isArray(choices)) return '';
  let text = '';
  for (const c of choices) if (isRecord(c) && typeof c.text === 'string') text += c.text;
  return text;
}

export const completions: EndpointSpec = {
  path: '/v1/completions',
  upstreamPath: '/completions',
  kind: 'completion',
  maxTokenFields: ['max_tokens'],
  canStream: true,
  streamUsageOption: true,
  validate(body) {
    const p = body.prompt;
    const ok = typeof p === 'string' || (Array.isArray(p) && p.length > 0);
    return ok
      ? null
      : { message: "'prompt' must be a string or a non-empty array", param: 'prompt' };
  },
  usageOf: (json) => (isRecord(json) ? promptCompletionUsage(json.usage) : null),
  textOf: (json) => (isRecord(json) ? choiceText(json.choices) : ''),
  streamEvent(data) {
    if (!isRecord(data)) return {};
    const usage = promptCompletionUsage(data.usage) ?? undefined;
    const choices = Array.isArray(data.choices) ? data.choices : [];
    return {
      text: choiceText(choices),
      usage,
      usageOnly: usage !== undefined && choices.length === 0,
      hasUsageField: 'usage' in data,
    };
  },
};
