/**
 * Token estimates for when no tokenizer is at hand: the prompt before a request is reserved, and
 * a stream that ended without reporting usage. No tokenizer is bundled because the pricing
 * package stays dependency-free and providers' tokenizers differ anyway.
 */

/** Fixed charge for one image part, whatever its size or detail setting. */
const IMAGE_PART_TOKENS = 1000;
/** Per-message framing (role, separators) that chat formats add around the content. */
const MESSAGE_OVERHEAD_TOKENS = 4;
/** Image content parts: chat `image_url`, responses `input_image`, Anthropic-style `image`. */
const IMAGE_PART_TYPES: ReadonlySet<string> = new Set(['image_url', 'input_image', 'image']);

/**
 * UTF-8 length without allocating an encoded copy (bodies can be megabytes). A lone surrogate
 * counts 3 bytes, as TextEncoder encodes it as U+FFFD.
 */
function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      bytes += 4; // a surrogate pair is one code point above U+FFFF
      i++;
    } else bytes += 3;
  }
  return bytes;
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

/** Rough token count of a text: ceil(UTF-8 bytes / 4); 0 only for the empty string. */
export function estimateTokensFromText(text: string): number {
  return Math.ceil(utf8ByteLength(text) / 4);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isImagePart(value: Record<string, unknown>): boolean {
  return typeof value.type === 'string' && IMAGE_PART_TYPES.has(value.type);
}

/**
 * Tokens in any JSON content: every string estimated, every number counted as one token (token-id
 * prompts are arrays of numbers), image parts at their fixed charge (their URL or base64 data is
 * not text the model reads). Structural strings such as `"role": "user"` are counted too: they
 * only over-estimate, which is the safe direction for a reservation. Iterative, so a deeply
 * nested body cannot overflow the stack.
 */
function contentTokens(root: unknown): number {
  let tokens = 0;
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value === 'string') tokens += estimateTokensFromText(value);
    else if (typeof value === 'number') tokens += 1;
    else if (Array.isArray(value)) for (const item of value) pending.push(item);
    else if (isRecord(value)) {
      if (isImagePart(value)) tokens += IMAGE_PART_TOKENS;
      else for (const item of Object.values(value)) pending.push(item);
    }
  }
  return tokens;
}

/** Framing overhead of a message list: one charge per object (chat message or responses item). */
function messageOverhead(value: unknown): number {
  if (!Array.isArray(value)) return 0;
  return value.filter(isRecord).length * MESSAGE_OVERHEAD_TOKENS;
}

/**
 * Tool and schema definitions are sent to the model as serialised JSON, keys included, so their
 * whole serialisation is estimated rather than only their string values.
 */
function definitionTokens(value: unknown): number {
  if (value === undefined || value === null) return 0;
  return estimateTokensFromText(JSON.stringify(value));
}

/**
 * Worst-case prompt tokens of an OpenAI request body (chat completions, responses, completions,
 * embeddings), for the budget reservation: it must over-estimate rather than under-estimate.
 * Expects a parsed JSON body; anything that is not an object estimates to 1.
 */
export function estimateInputTokens(body: unknown): number {
  if (!isRecord(body)) return 1;
  const tokens =
    contentTokens(body.messages) +
    messageOverhead(body.messages) +
    contentTokens(body.input) +
    messageOverhead(body.input) +
    contentTokens(body.prompt) +
    contentTokens(body.suffix) +
    contentTokens(body.instructions) +
    definitionTokens(body.tools) +
    definitionTokens(body.functions) +
    definitionTokens(body.response_format) +
    definitionTokens(body.text); // responses API: `text.format` carries the JSON schema
  return Math.max(1, tokens);
}
