/** How much of the end of an answer too large to hold is kept to find its usage. */
export const TAIL_BYTES = 16 * 1024;

/** The last TAIL_BYTES of what has passed, `chunk` included. */
export function keepTail(tail: Buffer, chunk: Buffer): Buffer {
  if (chunk.length >= TAIL_BYTES) return chunk.subarray(chunk.length - TAIL_BYTES);
  const joined = Buffer.concat([tail, chunk]);
  return joined.length > TAIL_BYTES ? joined.subarray(joined.length - TAIL_BYTES) : joined;
}

/**
 * The last top-level-looking `"usage": { … }` object in the end of a JSON answer (OpenAI puts usage
 * last), parsed; null when there is none or it does not parse. Braces inside strings are skipped.
 */
export function usageFromTail(tail: Buffer): unknown {
  const text = tail.toString('utf8');
  const at = text.lastIndexOf('"usage"');
  if (at < 0) return null;
  const open = text.indexOf('{', at);
  if (open < 0 || text.slice(at + 7, open).trim() !== ':') return null;
  let depth = 0;
  let inString = false;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) {
      try {
        return JSON.parse(text.slice(open, i + 1));
      } catch {
        return null;
      }
    }
  }
  return null;
}
