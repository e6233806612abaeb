import type { ClientRequest, ServerResponse } from 'node:http';
import type { TokenUsage } from '@tollgate/pricing';
import type { Outcome } from '../flight.ts';
import type { ForwardJob } from './proxy.ts';

/** One forwarded request while the proxy works on it. */
export interface Live {
  job: ForwardJob;
  proxyReq: ClientRequest | null;
  timedOut: boolean;
  ended: boolean;
  /** Number of the upstream call in progress (0 = first); answers of earlier ones are ignored. */
  attempt: number;
  /** What a stream has produced so far, for an end that comes from outside the tap. */
  stream: StreamProgress | null;
}

/**
 * What the stream tap has read so far. Plain data on purpose, never a closure: V8 allocates a
 * function literal assigned to a property (`live.x = () => …`) directly in the old generation, and
 * such a dead closure keeps its young context — here the relay's whole per-request graph — alive
 * across every scavenge until the next full GC (bench/RESULTS.md, "the streaming GC tail").
 */
export interface StreamProgress {
  usage: TokenUsage | null;
  /** Usage reported before the end (see StreamEventInfo.partialUsage). */
  partialUsage: TokenUsage | null;
  /** Content events with text. */
  chunks: number;
  /** UTF-8 bytes of their text. */
  textBytes: number;
  ttftMs: number | null;
  servedModel: string | null;
}

/** Output tokens estimated from what was streamed: one per content event, or 4 bytes per token. */
export function streamEstimate(p: StreamProgress): number {
  return Math.max(p.chunks, Math.ceil(p.textBytes / 4));
}

/** The outcome fields a stream has produced so far (none when nothing was streamed). */
export function streamedSoFar(live: Live): Partial<Outcome> {
  const p = live.stream;
  if (p === null) return {};
  return {
    usage: p.usage,
    partialUsage: p.partialUsage,
    outputEstimate: streamEstimate(p),
    ttftMs: p.ttftMs,
    servedModel: p.servedModel,
  };
}

export function outcome(
  fields: Partial<Outcome> & Pick<Outcome, 'status' | 'httpStatus'>,
): Outcome {
  return {
    errorClass: null,
    usage: null,
    served: false,
    outputEstimate: 0,
    ttftMs: null,
    servedModel: null,
    ...fields,
  };
}

/** The client's connection closed before its answer was whole (it left, or a stop cut it): the
 * answer's own `close` settles the request, whatever the upstream side reports meanwhile. */
export function clientGone(res: ServerResponse): boolean {
  return !res.writableFinished && (res.destroyed || res.req.socket.destroyed);
}

/**
 * Ends an answer in progress the way its upstream ended: what was written is flushed, then the
 * connection closes without the answer's last chunk, so the client sees it incomplete (an SDK
 * raises) — ended cleanly, a stream cut off mid-answer read as a finished one.
 */
export function cutAnswer(res: ServerResponse): void {
  if (res.writableEnded || res.destroyed) return;
  const socket = res.socket;
  if (socket === null) res.destroy();
  else socket.end();
}
