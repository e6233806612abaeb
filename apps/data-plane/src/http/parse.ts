import type { EndpointSpec } from '../providers/types.ts';
import { isRecord } from '../providers/types.ts';
import { hasControlChars } from '../text.ts';
import { badRequest, type ErrorSpec } from './errors.ts';

/** Largest accepted output bound; anything above is surely a mistake (and no model allows it). */
const MAX_OUTPUT_BOUND = 10_000_000;
/** Largest `n` / `best_of`: each multiplies the worst-case output. */
const MAX_CHOICES = 128;
/** Deepest nesting of arrays and objects accepted. JSON.parse takes any depth, but re-encoding
 * the body for the upstream (JSON.stringify) and translating it recurse, and a few thousand
 * levels (a 12 KB body) overflow the stack. No real request comes near this. */
export const MAX_JSON_DEPTH = 256;

export interface ParsedRequest {
  body: Record<string, unknown>;
  model: string;
  stream: boolean;
  /** The client asked for the usage chunk on its stream itself. */
  clientWantsUsage: boolean;
  /** The smallest output bound the request set across its bound fields; undefined = none. */
  maxOutput: number | undefined;
  /** Output produced per bound: `n` (and `best_of` for completions). */
  choices: number;
  /** `metadata.tags`, when the body carries them. */
  bodyTags: unknown[];
}

/** One fatal decoder for every request: `decode()` without `stream` starts afresh each call. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

function positiveInt(value: unknown, max: number): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1 && value <= max;
}

/**
 * Checks everything the enforcement depends on, before anything is reserved or forwarded: a body
 * the gateway cannot judge (an unbounded `n`, a string `max_tokens`) would make the worst-case cost
 * wrong, so it is refused with 400 rather than passed through for the upstream to judge.
 */
export function parseRequest(raw: Buffer, endpoint: EndpointSpec): ParsedRequest | ErrorSpec {
  let body: unknown;
  try {
    // Fatal decoding: invalid UTF-8 is refused, never silently replaced and forwarded.
    body = JSON.parse(UTF8.decode(raw));
  } catch {
    return badRequest('We could not parse the JSON body of your request (JSON in UTF-8).');
  }
  if (!isRecord(body)) return badRequest('The request body must be a JSON object.');
  // Each level takes at least two bytes (`[]`): a shorter body cannot be too deep.
  if (raw.length > 2 * MAX_JSON_DEPTH && deeperThan(body, MAX_JSON_DEPTH)) {
    return badRequest(
      `The request body is nested too deeply: at most ${MAX_JSON_DEPTH} levels of arrays and objects.`,
    );
  }
  const model = body.model;
  if (model === undefined || model === null) {
    return badRequest('you must provide a model parameter', 'model');
  }
  if (typeof model !== 'string' || model.trim() === '') {
    return badRequest("'model' must be a non-empty string", 'model');
  }
  // A model name goes into the usage record (and the books): control characters have no place
  // there (PostgreSQL text cannot even hold NUL).
  if (hasControlChars(model)) {
    return badRequest("'model' must not contain control characters", 'model');
  }
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') {
    return badRequest("'stream' must be a boolean", 'stream');
  }
  const stream = body.stream === true;
  if (stream && !endpoint.canStream)
    return badRequest(`${endpoint.path} does not stream`, 'stream');
  const options = body.stream_options;
  if (options !== undefined && options !== null) {
    if (!isRecord(options))
      return badRequest("'stream_options' must be an object", 'stream_options');
    if (options.include_usage !== undefined && typeof options.include_usage !== 'boolean') {
      return badRequest("'stream_options.include_usage' must be a boolean", 'stream_options');
    }
  }
  let maxOutput: number | undefined;
  for (const field of endpoint.maxTokenFields) {
    const value = body[field];
    if (value === undefined || value === null) continue;
    if (!positiveInt(value, MAX_OUTPUT_BOUND)) {
      return badRequest(`'${field}' must be an integer between 1 and ${MAX_OUTPUT_BOUND}`, field);
    }
    maxOutput = maxOutput === undefined ? (value as number) : Math.min(maxOutput, value as number);
  }
  let choices = 1;
  for (const field of ['n', 'best_of']) {
    const value = body[field];
    if (value === undefined || value === null) continue;
    if (endpoint.kind !== 'chat' && endpoint.kind !== 'completion') continue;
    if (field === 'best_of' && endpoint.kind !== 'completion') continue;
    if (!positiveInt(value, MAX_CHOICES)) {
      return badRequest(`'${field}' must be an integer between 1 and ${MAX_CHOICES}`, field);
    }
    choices = Math.max(choices, value as number);
  }
  // Completions answer every prompt of a list (`n`/`best_of` times each): each is a worst case.
  if (endpoint.kind === 'completion') choices *= promptCount(body.prompt);
  let bodyTags: unknown[] = [];
  if (body.metadata !== undefined && body.metadata !== null) {
    if (!isRecord(body.metadata)) return badRequest("'metadata' must be an object", 'metadata');
    const tags = body.metadata.tags;
    if (tags !== undefined) {
      if (!Array.isArray(tags))
        return badRequest("'metadata.tags' must be a list", 'metadata.tags', 'invalid_tag');
      bodyTags = tags;
    }
  }
  const specific = endpoint.validate(body);
  if (specific !== null) return badRequest(specific.message, specific.param);
  const clientWantsUsage = isRecord(options) && options.include_usage === true;
  return { body, model, stream, clientWantsUsage, maxOutput, choices, bodyTags };
}

/** Whether arrays and objects nest deeper than `limit` levels in `root` (itself level 1).
 * Iterative: the walk must not itself overflow on the bodies it exists to refuse. */
function deeperThan(root: object, limit: number): boolean {
  const pending: object[] = [root];
  const depths: number[] = [1];
  while (pending.length > 0) {
    const value = pending.pop() as Record<string, unknown>;
    const depth = depths.pop() as number;
    if (depth > limit) return true;
    for (const key in value) {
      const child = value[key];
      if (typeof child === 'object' && child !== null) {
        pending.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}

/** How many prompts a completions `prompt` holds: a list of strings or of token lists is one per
 * item; a string or one token list (numbers) is one. */
function promptCount(prompt: unknown): number {
  if (!Array.isArray(prompt) || prompt.length === 0) return 1;
  return prompt.every((p) => typeof p === 'number') ? 1 : prompt.length;
}

export function isError(value: ParsedRequest | ErrorSpec): value is ErrorSpec {
  return 'status' in value;
}
