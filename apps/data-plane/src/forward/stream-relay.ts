import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Outcome, unreportedUsage } from '../flight.ts';
import { isRecord } from '../providers/types.ts';
import {
  clientGone,
  cutAnswer,
  type Live,
  outcome,
  type StreamProgress,
  streamEstimate,
} from './live.ts';
import { createSseSplitter, type SseEvent, sseFields } from './sse.ts';

/**
 * Relays an upstream event stream to the client event by event (nothing is held back beyond one
 * event) while a tap reads the text and usage: the usage chunk injected for billing is stripped
 * when the client did not ask for it, and the stream is ended as a normal `length` stop when its
 * estimated cost passes the reservation (the cap guarantee, streaming included): chat and completions
 * with a `finish_reason: "length"` chunk, Responses with `response.incomplete` (max_output_tokens;
 * its reader closes the output items with what was streamed), Messages with `max_tokens`.
 */
export interface StreamDeps {
  now: () => number;
  end: (live: Live, outcome: Outcome) => void;
}

export function relayStream(
  live: Live,
  proxyRes: IncomingMessage,
  res: ServerResponse,
  status: number,
  deps: StreamDeps,
) {
  const { job } = live;
  const { endpoint } = job.flight;
  res.writeHead(status, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    ...job.responseHeaders,
  });
  res.flushHeaders();
  const splitter = createSseSplitter();
  // Read by the forwarder when the stream ends from outside the tap (client gone, socket error).
  // Plain data, not a closure: see StreamProgress.
  const progress: StreamProgress = {
    usage: null,
    partialUsage: null,
    chunks: 0,
    textBytes: 0,
    ttftMs: null,
    servedModel: null,
  };
  live.stream = progress;
  /** The last chunk of a chat or completions stream (its id, created, model close a cut stream). */
  let last: Record<string, unknown> | null = null;
  let upstreamDone = false;
  let failed = false;
  const reader = job.streamReader?.() ??
    endpoint.streamReader?.() ?? { event: (data: unknown) => endpoint.streamEvent(data) };
  const result = (fields: Partial<Outcome> & Pick<Outcome, 'status' | 'httpStatus'>) =>
    outcome({
      usage: progress.usage,
      partialUsage: progress.partialUsage,
      served: true,
      outputEstimate: streamEstimate(progress),
      ttftMs: progress.ttftMs,
      servedModel: progress.servedModel,
      ...fields,
    });

  // Output of the current upstream chunk, written once per chunk (not once per event). When every
  // event of a chunk passes unchanged and the chunk holds whole events only, the chunk's own bytes
  // are written (no re-encoding).
  let out = '';
  let verbatim = false;
  const send = (data: string | Buffer) => {
    if (!res.writableEnded && !res.write(data)) {
      proxyRes.pause();
      res.once('drain', () => proxyRes.resume());
    }
  };
  const flushOut = () => {
    if (out.length > 0) send(out);
    out = '';
  };
  const write = (text: string) => {
    out += text;
  };
  const writeChanged = (text: string) => {
    verbatim = false;
    out += text;
  };

  // Several choices (`n`, `best_of`, a list of prompts): which ones are still open, so a cut ends
  // each of them. One choice (the common case): nothing is tracked, index 0 is closed.
  const several = job.flight.cost.choices > 1;
  const open = new Set<number>();
  const noteChoices = (choices: unknown) => {
    if (!Array.isArray(choices)) return;
    for (const c of choices) {
      if (!isRecord(c) || typeof c.index !== 'number') continue;
      if (c.finish_reason === null || c.finish_reason === undefined) open.add(c.index);
      else open.delete(c.index);
    }
  };

  /** The cap guard: close the answer as a normal `length` stop and cut the upstream. The closing
   * events report the usage its record bills (as the record: see flight.finish). */
  const capEnd = () => {
    verbatim = false;
    flushOut();
    const billed = unreportedUsage(job.flight, progress.partialUsage, streamEstimate(progress));
    if (reader.capEnd !== undefined) {
      send(reader.capEnd(billed));
    } else if ((endpoint.kind === 'chat' || endpoint.kind === 'completion') && last !== null) {
      const indices = several && open.size > 0 ? [...open].sort((a, b) => a - b) : [0];
      const choices = indices.map((index) =>
        endpoint.kind === 'chat'
          ? { index, delta: {}, finish_reason: 'length', logprobs: null }
          : { index, text: '', finish_reason: 'length', logprobs: null },
      );
      const stop = {
        id: last.id,
        object: last.object,
        created: last.created,
        model: last.model,
        choices,
      };
      send(`data: ${JSON.stringify(stop)}\n\n`);
      // A client that asked for usage gets it here too: what it is billed (estimated, as its record).
      if (job.clientWantsUsage === true) {
        const usage = {
          prompt_tokens: billed.inputTokens,
          completion_tokens: billed.outputTokens,
          total_tokens: billed.inputTokens + billed.outputTokens,
        };
        send(`data: ${JSON.stringify({ ...stop, choices: [], usage })}\n\n`);
      }
    }
    if (reader.capEnd === undefined) send('data: [DONE]\n\n');
    res.end();
    deps.end(live, result({ status: 'ok', httpStatus: status, errorClass: null, usage: null }));
    live.proxyReq?.destroy();
    proxyRes.destroy();
  };

  /** The upstream's answer is whole (its last event relayed, or its end): the client's answer ends
   * and the request settles at once — a client that stops reading at the last event (the SDKs
   * stop at `[DONE]`) and closes before the upstream's connection ends got everything. */
  const complete = () => {
    upstreamDone = true;
    flushOut();
    res.end();
    const errorClass = failed ? 'upstream_error' : null;
    deps.end(live, result({ status: failed ? 'error' : 'ok', httpStatus: status, errorClass }));
  };

  const onEvent = (ev: SseEvent) => {
    if (live.ended) return;
    if (ev.data === null || ev.data === '[DONE]') {
      write(`${ev.raw}\n\n`);
      if (ev.data === '[DONE]') complete();
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(ev.data);
    } catch {
      write(`${ev.raw}\n\n`);
      return;
    }
    const info = reader.event(json);
    if (progress.ttftMs === null) progress.ttftMs = deps.now() - job.flight.startedMs;
    if (info.usage !== undefined) progress.usage = info.usage;
    if (info.partialUsage !== undefined) progress.partialUsage = info.partialUsage;
    if (info.model !== undefined) progress.servedModel = info.model;
    if (info.failed) failed = true;
    if (isRecord(json)) {
      if (typeof json.model === 'string') progress.servedModel = json.model;
      if (isRecord(json.response) && typeof json.response.model === 'string') {
        progress.servedModel = json.response.model;
      }
      if (json.object === 'chat.completion.chunk' || json.object === 'text_completion') {
        last = json;
        if (several) noteChoices(json.choices);
      }
    }
    if (info.text) {
      progress.chunks += 1;
      progress.textBytes += Buffer.byteLength(info.text);
    }
    if (info.replace !== undefined) {
      writeChanged(info.replace);
    } else if (job.stripUsage && info.usage !== undefined && isRecord(json)) {
      if (!info.usageOnly) {
        delete json.usage;
        writeChanged(`${sseFields(ev)}data: ${JSON.stringify(json)}\n\n`);
      } else verbatim = false;
    } else if (job.stripUsage && info.hasUsageField === true && isRecord(json)) {
      // `usage: null` rides on every chunk only because we asked for usage: not the client's to see.
      // Its other fields (`event:`, `id:`) stay as sent.
      writeChanged(`${sseFields(ev)}${withoutNullUsage(ev.data, json)}`);
    } else {
      write(`${ev.raw}\n\n`);
    }
    // A lower bound of the tokens streamed (one per content chunk, or 8 bytes per token), so a
    // well-behaved upstream honouring the clamped bound is never cut early.
    if (info.text && job.overBudget(Math.max(progress.chunks, Math.ceil(progress.textBytes / 8)))) {
      capEnd();
    } else if (info.final === true) complete();
  };

  proxyRes.on('data', (chunk: Buffer) => {
    // \r\n line endings are normalised in what is relayed: such a chunk is re-encoded.
    verbatim = !splitter.holding() && !chunk.includes(13);
    for (const ev of splitter.push(chunk)) onEvent(ev);
    if (live.ended) return;
    if (verbatim && !splitter.holding()) {
      out = '';
      send(chunk);
    } else flushOut();
  });
  proxyRes.on('end', () => {
    upstreamDone = true;
    verbatim = false;
    for (const ev of splitter.end()) onEvent(ev);
    if (live.ended) return;
    complete();
  });
  proxyRes.on('close', () => {
    if (upstreamDone || live.ended) return;
    // Its client's connection closed first (the upstream was aborted for it): the answer's own
    // close says why (client gone, or a stop's cut).
    if (clientGone(res)) return;
    // The upstream went away mid-stream: bill what was streamed, cut the client's stream as the
    // upstream cut it.
    flushOut();
    cutAnswer(res);
    deps.end(live, result({ status: 'error', errorClass: 'upstream_cut', httpStatus: status }));
  });
}

const NULL_USAGE_TAIL = ',"usage":null}';

/** The event without its `usage` field, as a client that did not ask for usage gets it from the
 * provider: cut from the text when it is the last field (OpenAI's order, no re-encoding), else
 * the event re-encoded without it. */
export function withoutNullUsage(data: string, json: Record<string, unknown>): string {
  const tail = data.length - NULL_USAGE_TAIL.length + 1;
  if (data.endsWith(NULL_USAGE_TAIL) && data.indexOf('"usage":') === tail && !data.includes('\n')) {
    return `data: ${data.slice(0, -NULL_USAGE_TAIL.length)}}\n\n`;
  }
  delete json.usage;
  return `data: ${JSON.stringify(json)}\n\n`;
}
