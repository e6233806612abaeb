import { type EndpointSpec, isRecord, promptCompletionUsage } from '../types.ts';

export const embeddings: EndpointSpec = {
  path: '/v1/embeddings',
  upstreamPath: '/embeddings',
  kind: 'embedding',
  maxTokenFields: [],
  canStream: false,
  streamUsageOption: false,
  validate(body) {
    const i = body.input;
    const ok = typeof i === 'string' || (Array.isArray(i) && i.length > 0);
    return ok ? null : { message: "'input' must be a string or a non-empty array", param: 'input' };
  },
  usageOf: (json) => (isRecord(json) ? promptCompletionUsage(json.usage) : null),
  textOf: () => '',
  streamEvent: () => ({}),
};
