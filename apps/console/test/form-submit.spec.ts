import { describe, expect, it } from 'vitest';
import { inputToSend } from '../src/form-submit.ts';

function sinks() {
  const seen: { errors?: unknown; problem?: string | null; message?: string | null } = {};
  return {
    seen,
    sinks: {
      setErrors: (e: Record<string, string>) => {
        seen.errors = e;
      },
      setProblem: (p: string | null) => {
        seen.problem = p;
      },
      setMessage: (m: string | null) => {
        seen.message = m;
      },
    },
  };
}

describe('an edit form submit, first step', () => {
  it('refuses marked fields before sending anything', () => {
    const { seen, sinks: s } = sinks();
    expect(inputToSend({ ok: false, errors: { cap: 'bad' } }, s, {})).toBeNull();
    expect(seen).toEqual({
      message: null,
      errors: { cap: 'bad' },
      problem: 'Fix the marked fields; nothing was changed.',
    });
  });
  it('sends nothing when nothing changed, and says so', () => {
    const { seen, sinks: s } = sinks();
    expect(inputToSend({ ok: true, input: {} }, s, {})).toBeNull();
    expect(seen).toEqual({ message: 'Nothing changed.', errors: {}, problem: null });
  });
  it('answers the input to send, errors cleared', () => {
    const { seen, sinks: s } = sinks();
    expect(inputToSend({ ok: true, input: { markupPercent: 5 } }, s, {})).toEqual({
      markupPercent: 5,
    });
    expect(seen).toEqual({ message: null, errors: {} });
  });
});
