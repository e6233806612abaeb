import type { ServerResponse } from 'node:http';
import type { Action } from '../lib/authz.ts';
import type { Caller } from '../services/context.ts';
import type { RestDeps } from './router.ts';

export interface RouteContext {
  deps: RestDeps;
  caller: Caller;
  params: Record<string, string>;
  query: Record<string, string>;
  /** Parsed JSON object body with camelCase keys (`{}` for bodiless methods). */
  body: () => Promise<Record<string, unknown>>;
  /** For a route that streams its answer itself (and then returns null). */
  res: ServerResponse;
}

export interface Route {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** `:name` matches one id segment; a last `:name*` the rest of the path, slashes included
   * (URL-decoded, so `openai/gpt-4o` and `openai%2Fgpt-4o` are the same). */
  path: string;
  action: Action;
  /** A POST whose body may be left out (nothing in it is required). */
  optionalBody?: boolean;
  /** Reads query parameters (and validates them itself); any other route refuses every one. */
  query?: boolean;
  /** Answers [status, body], or null when it wrote the response itself (streaming). */
  handle: (ctx: RouteContext) => Promise<[number, unknown] | null>;
}

export const ok = (body: unknown): [number, unknown] => [200, body];
export const created = (body: unknown): [number, unknown] => [201, body];
