/** What an edit form built from its fields: the input to send, or the errors per field. */
export type BuiltInput<I, E> = { ok: true; input: I } | { ok: false; errors: E };

/** Where an edit form shows the outcome of a submit. */
export interface SubmitSinks<E> {
  setErrors(errors: E): void;
  setProblem(problem: string | null): void;
  setMessage(message: string | null): void;
}

/**
 * The first step of every edit form's submit: marked fields are refused before anything is sent,
 * and an edit that changes nothing sends nothing. Answers the input to send, or null when the form
 * has already said why nothing was sent.
 */
export function inputToSend<I extends object, E>(
  built: BuiltInput<I, E>,
  sinks: SubmitSinks<E>,
  noErrors: E,
): I | null {
  sinks.setMessage(null);
  if (!built.ok) {
    sinks.setErrors(built.errors);
    sinks.setProblem('Fix the marked fields; nothing was changed.');
    return null;
  }
  sinks.setErrors(noErrors);
  if (Object.keys(built.input).length === 0) {
    sinks.setProblem(null);
    sinks.setMessage('Nothing changed.');
    return null;
  }
  return built.input;
}
