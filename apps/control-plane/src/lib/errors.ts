/**
 * Expected failures of the admin API. Services throw these; REST maps them to the error envelope,
 * GraphQL exposes them as typed error unions (@pothos/plugin-errors). Anything else is a bug and is
 * masked by both layers.
 */
export class ValidationError extends Error {
  override name = 'ValidationError';
  constructor(
    message: string,
    /** Offending input field (camelCase path, e.g. `spendCapCents`); REST turns it into snake_case. */
    readonly field: string | null = null,
  ) {
    super(message);
  }
}

/** The object does not exist *in the caller's workspace* — other workspaces' objects look missing too. */
export class NotFoundError extends Error {
  override name = 'NotFoundError';
  constructor(
    readonly resource: string,
    readonly id: string,
  ) {
    // An id is whatever the caller sent (GraphQL ids are unbounded): echoed at most 100 characters.
    super(`${resource} '${id.length > 100 ? `${id.slice(0, 100)}…` : id}' not found`);
  }
}

export class ConflictError extends Error {
  override name = 'ConflictError';
}

/** Missing or wrong credentials (401). */
export class AuthenticationError extends Error {
  override name = 'AuthenticationError';
}

/** Valid credentials, action not permitted (403). */
export class PermissionError extends Error {
  override name = 'PermissionError';
}

/** Too many failed authentications from one client (429). */
export class TooManyAttemptsError extends Error {
  override name = 'TooManyAttemptsError';
  constructor(readonly retryAfterSeconds: number) {
    super('too many failed authentication attempts; retry later');
  }
}
