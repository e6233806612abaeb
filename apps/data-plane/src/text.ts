/** C0 control characters and DEL: nothing a model name or a record field should carry (and
 * PostgreSQL text cannot hold NUL at all). */
function isControl(code: number): boolean {
  return code < 0x20 || code === 0x7f;
}

export function hasControlChars(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (isControl(text.charCodeAt(i))) return true;
  return false;
}

/** Text from outside (a provider's `model`) as a usage record may hold it: control characters
 * dropped, at most `max` characters — the record must never be refused for its text. */
export function recordText(text: string, max: number): string {
  let out = text;
  if (hasControlChars(out)) {
    out = Array.from(out, (c) => (isControl(c.charCodeAt(0)) ? '' : c)).join('');
  }
  return out.length > max ? out.slice(0, max) : out;
}
