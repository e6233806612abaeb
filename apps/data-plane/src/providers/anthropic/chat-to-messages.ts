import { isRecord } from '../types.ts';
import { upstreamModelId } from './wire.ts';

/**
 * Chat Completions request → Anthropic Messages request. Parameters are data: copied as is,
 * renamed, dropped (no effect on what is generated or billed), or refused with a 400 (they would
 * change the answer and Anthropic has no equivalent — never silently dropped).
 */

export interface Unsupported {
  message: string;
  param: string;
}

/** Fields read by the translation below (or by the gateway itself). */
const HANDLED = new Set([
  'model',
  'messages',
  'max_tokens',
  'max_completion_tokens',
  'stream',
  'stream_options',
  'stop',
  'temperature',
  'top_p',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'user',
  'metadata',
  'n',
]);
/** No effect on the generated answer or its price. */
const DROPPED = new Set(['store', 'seed', 'service_tier', 'safety_identifier', 'prompt_cache_key']);
/** Refused unless at their neutral value. */
const NEUTRAL: Record<string, (v: unknown) => boolean> = {
  frequency_penalty: (v) => v === 0,
  presence_penalty: (v) => v === 0,
  logprobs: (v) => v === false,
  top_logprobs: (v) => v === 0,
  logit_bias: (v) => isRecord(v) && Object.keys(v).length === 0,
  response_format: (v) => isRecord(v) && v.type === 'text',
  modalities: (v) => Array.isArray(v) && v.every((m) => m === 'text'),
};

const FINISH: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
};

export function finishReason(stop: unknown): string | null {
  if (typeof stop !== 'string') return null;
  return FINISH[stop] ?? 'stop';
}

type Block = Record<string, unknown>;

/** Thrown inside the translation, returned by `chatToMessages`. */
class Refusal extends Error {
  constructor(
    message: string,
    readonly param: string,
  ) {
    super(message);
  }
}

function fail(message: string, param: string): never {
  throw new Refusal(message, param);
}

function textOf(content: unknown): string | null {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return null;
  const parts: string[] = [];
  for (const p of content) {
    if (!isRecord(p) || p.type !== 'text' || typeof p.text !== 'string') return null;
    parts.push(p.text);
  }
  return parts.join('\n');
}

function imageBlock(part: Record<string, unknown>): Block {
  const image = part.image_url;
  const url = typeof image === 'string' ? image : isRecord(image) ? image.url : undefined;
  if (typeof url !== 'string') return fail("'image_url.url' must be a string", 'messages');
  const data = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  if (data !== null) {
    return { type: 'image', source: { type: 'base64', media_type: data[1], data: data[2] } };
  }
  if (!/^https?:\/\//.test(url))
    return fail('image URLs must be http(s) or base64 data URLs', 'messages');
  return { type: 'image', source: { type: 'url', url } };
}

function contentBlocks(content: unknown): Block[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  if (content === null || content === undefined) return [];
  if (!Array.isArray(content))
    return fail("message 'content' must be a string or a list", 'messages');
  const blocks: Block[] = [];
  for (const part of content) {
    if (!isRecord(part)) return fail('content parts must be objects', 'messages');
    if (part.type === 'text' && typeof part.text === 'string') {
      blocks.push({ type: 'text', text: part.text });
    } else if (part.type === 'image_url') {
      const b = imageBlock(part);
      blocks.push(b);
    } else {
      fail(
        `content part type '${String(part.type)}' is not supported for Anthropic models`,
        'messages',
      );
    }
  }
  return blocks;
}

function toolUseBlocks(toolCalls: unknown): Block[] {
  if (toolCalls === undefined || toolCalls === null) return [];
  if (!Array.isArray(toolCalls)) return fail("'tool_calls' must be a list", 'messages');
  const blocks: Block[] = [];
  for (const call of toolCalls) {
    if (!isRecord(call) || !isRecord(call.function) || typeof call.function.name !== 'string') {
      fail('every tool call needs a function name', 'messages');
    }
    let input: unknown = {};
    const args = call.function.arguments;
    if (typeof args === 'string' && args.trim() !== '') {
      try {
        input = JSON.parse(args);
      } catch {
        fail('tool call arguments must be JSON', 'messages');
      }
    }
    blocks.push({ type: 'tool_use', id: String(call.id ?? ''), name: call.function.name, input });
  }
  return blocks;
}

interface Turn {
  role: 'user' | 'assistant';
  content: Block[];
}

/** Messages (system prompt apart, tool results as user turns, consecutive roles merged). */
function translateMessages(list: Record<string, unknown>[]): { system: string[]; turns: Turn[] } {
  const system: string[] = [];
  const turns: Turn[] = [];
  const push = (role: Turn['role'], blocks: Block[]) => {
    const prev = turns.at(-1);
    if (prev !== undefined && prev.role === role) prev.content.push(...blocks);
    else turns.push({ role, content: blocks });
  };
  for (const m of list) {
    switch (m.role) {
      case 'system':
      case 'developer': {
        const text = textOf(m.content);
        if (text === null) return fail('system messages must be text', 'messages');
        system.push(text);
        break;
      }
      case 'user': {
        const blocks = contentBlocks(m.content);
        push('user', blocks);
        break;
      }
      case 'assistant': {
        const blocks = contentBlocks(m.content);
        const calls = toolUseBlocks(m.tool_calls);
        push('assistant', [...blocks, ...calls]);
        break;
      }
      case 'tool': {
        const text = textOf(m.content);
        if (text === null) return fail('tool messages must be text', 'messages');
        push('user', [
          { type: 'tool_result', tool_use_id: String(m.tool_call_id ?? ''), content: text },
        ]);
        break;
      }
      default:
        fail(`message role '${String(m.role)}' is not supported for Anthropic models`, 'messages');
    }
  }
  if (turns.length === 0) return fail('at least one user message is required', 'messages');
  return { system, turns };
}

function translateTools(tools: unknown): Block[] {
  if (!Array.isArray(tools)) return fail("'tools' must be a list", 'tools');
  const out: Block[] = [];
  for (const t of tools) {
    if (!isRecord(t) || t.type !== 'function' || !isRecord(t.function)) {
      fail('only function tools are supported for Anthropic models', 'tools');
    }
    const f = t.function;
    if (typeof f.name !== 'string') return fail('every tool needs a name', 'tools');
    const tool: Block = {
      name: f.name,
      input_schema: isRecord(f.parameters) ? f.parameters : { type: 'object', properties: {} },
    };
    if (typeof f.description === 'string') tool.description = f.description;
    out.push(tool);
  }
  return out;
}

function translateToolChoice(choice: unknown, parallel: unknown): Block | undefined {
  let out: Block | undefined;
  if (choice === 'auto') out = { type: 'auto' };
  else if (choice === 'required') out = { type: 'any' };
  else if (choice === 'none') out = { type: 'none' };
  else if (
    isRecord(choice) &&
    isRecord(choice.function) &&
    typeof choice.function.name === 'string'
  ) {
    out = { type: 'tool', name: choice.function.name };
  } else if (choice !== undefined && choice !== null) {
    return fail("'tool_choice' is not valid", 'tool_choice');
  }
  if (parallel === false) out = { ...(out ?? { type: 'auto' }), disable_parallel_tool_use: true };
  return out;
}

/**
 * The Messages body for a chat request, without `max_tokens` (set after admission, from the
 * possibly clamped bound). `model` is the name after the provider prefix.
 */
export function chatToMessages(
  body: Record<string, unknown>,
  model: string,
): Record<string, unknown> | Unsupported {
  try {
    return translate(body, model);
  } catch (err) {
    if (err instanceof Refusal) return { message: err.message, param: err.param };
    throw err;
  }
}

function translate(body: Record<string, unknown>, model: string): Record<string, unknown> {
  for (const key of Object.keys(body)) {
    const value = body[key];
    if (HANDLED.has(key) || DROPPED.has(key) || value === null || value === undefined) continue;
    const neutral = NEUTRAL[key];
    if (neutral === undefined || !neutral(value)) {
      return fail(`'${key}' is not supported for Anthropic models`, key);
    }
  }
  if (typeof body.n === 'number' && body.n !== 1)
    return fail("'n' must be 1 for Anthropic models", 'n');
  const msgs = translateMessages(body.messages as Record<string, unknown>[]);
  const out: Record<string, unknown> = { model: upstreamModelId(model), messages: msgs.turns };
  if (msgs.system.length > 0) out.system = msgs.system.join('\n\n');
  if (body.temperature !== undefined && body.temperature !== null) {
    const t = body.temperature;
    if (typeof t !== 'number' || t < 0 || t > 1) {
      fail("'temperature' must be between 0 and 1 for Anthropic models", 'temperature');
    }
    out.temperature = t;
  }
  if (typeof body.top_p === 'number') out.top_p = body.top_p;
  if (body.stop !== undefined && body.stop !== null) {
    const stop = typeof body.stop === 'string' ? [body.stop] : body.stop;
    if (!Array.isArray(stop) || !stop.every((s) => typeof s === 'string')) {
      fail("'stop' must be a string or a list of strings", 'stop');
    }
    if (stop.length > 0) out.stop_sequences = stop;
  }
  if (body.tools !== undefined && body.tools !== null) {
    const tools = translateTools(body.tools);
    if (tools.length > 0) out.tools = tools;
  }
  const choice = translateToolChoice(body.tool_choice, body.parallel_tool_calls);
  if (choice !== undefined && choice.type !== 'none' && out.tools === undefined) {
    return fail("'tool_choice' needs 'tools'", 'tool_choice');
  }
  if (choice !== undefined) out.tool_choice = choice;
  if (typeof body.user === 'string') out.metadata = { user_id: body.user };
  if (body.stream === true) out.stream = true;
  return out;
}

export function isUnsupported(v: Record<string, unknown> | Unsupported): v is Unsupported {
  return typeof v.param === 'string' && !('messages' in v);
}
