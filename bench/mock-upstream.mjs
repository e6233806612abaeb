#!/usr/bin/env node
// Minimal, fast mock of an OpenAI-compatible upstream (node:http only, no framework).
//
// Routes
//   POST /v1/chat/completions   non-streaming JSON, or SSE when body.stream === true
//                               (a final usage chunk is sent when stream_options.include_usage is true,
//                               then `data: [DONE]`)
//   POST /v1/embeddings         fixed vector(s) + usage
//   GET  /v1/models             fixed model list
//   GET  /health                "ok"
//   (the same routes are also served without the /v1 prefix)
//
// Env (all optional)
//   MOCK_HOST            default 127.0.0.1 (only loopback is intended)
//   MOCK_PORT            default 18080
//   MOCK_DELAY_MS        delay before the response head / first SSE chunk (simulated TTFT), default 0
//   MOCK_CHUNK_DELAY_MS  delay between SSE chunks, default 0 (0 = chunks written back-to-back, one write each)
//   MOCK_CHUNKS          number of content chunks per stream, default 20
//   MOCK_EMBED_DIM       embedding dimension, default 256
//   MOCK_MAX_SECONDS     if > 0, the process exits by itself after this many seconds (safety bound)
//
// Per-request override (so delays can be varied without restarting, through any gateway that passes
// `model` through unchanged): a model name containing `-d<N>` sets the delay, `-c<N>` the chunk delay,
// `-n<N>` the number of chunks, e.g. "mock-d20-c5-n10".

import http from 'node:http';

const HOST = process.env.MOCK_HOST || '127.0.0.1';
const PORT = Number(process.env.MOCK_PORT || 18080);
const DELAY_MS = Number(process.env.MOCK_DELAY_MS || 0);
const CHUNK_DELAY_MS = Number(process.env.MOCK_CHUNK_DELAY_MS || 0);
const CHUNKS = Number(process.env.MOCK_CHUNKS || 20);
const EMBED_DIM = Number(process.env.MOCK_EMBED_DIM || 256);
const MAX_SECONDS = Number(process.env.MOCK_MAX_SECONDS || 0);

const CREATED = 1735689600;
const FINGERPRINT = 'fp_mock0001';
const WORDS = [
  'The',
  ' quick',
  ' brown',
  ' fox',
  ' jumps',
  ' over',
  ' the',
  ' lazy',
  ' dog',
  '.',
  ' Gateways',
  ' should',
  ' add',
  ' little',
  ' latency',
  ' and',
  ' count',
  ' every',
  ' token',
  '.',
];

let seq = 0;
const nextId = (p) => `${p}-mock${(++seq).toString(36)}`;

function params(model, dflt) {
  const m = typeof model === 'string' ? model : '';
  const pick = (re, d) => {
    const r = re.exec(m);
    return r ? Number(r[1]) : d;
  };
  return {
    delay: pick(/-d(\d+)/, dflt.delay),
    chunkDelay: pick(/-c(\d+)/, dflt.chunkDelay),
    chunks: pick(/-n(\d+)/, dflt.chunks),
  };
}
const DEFAULTS = { delay: DELAY_MS, chunkDelay: CHUNK_DELAY_MS, chunks: CHUNKS };

function contentFor(n) {
  let s = '';
  for (let i = 0; i < n; i++) s += WORDS[i % WORDS.length];
  return s;
}
const promptTokens = (body) => Math.max(1, Math.round((body.length || 0) / 4));

function chatBody(model, nChunks, pTok) {
  const completion = nChunks;
  return JSON.stringify({
    id: nextId('chatcmpl'),
    object: 'chat.completion',
    created: CREATED,
    model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: contentFor(nChunks),
          refusal: null,
          annotations: [],
        },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: {
      prompt_tokens: pTok,
      completion_tokens: completion,
      total_tokens: pTok + completion,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 0,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    },
    service_tier: 'default',
    system_fingerprint: FINGERPRINT,
  });
}

function sseChunk(id, model, delta, finish, usage) {
  const o = {
    id,
    object: 'chat.completion.chunk',
    created: CREATED,
    model,
    service_tier: 'default',
    system_fingerprint: FINGERPRINT,
    choices: usage ? [] : [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  };
  if (usage !== undefined) o.usage = usage; // include_usage: usage:null on normal chunks, object on last
  return `data: ${JSON.stringify(o)}\n\n`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function streamChat(res, model, p, includeUsage, pTok) {
  if (p.delay > 0) await sleep(p.delay);
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-request-id': nextId('req'),
  });
  const id = nextId('chatcmpl');
  const u = includeUsage ? null : undefined;
  const frames = [sseChunk(id, model, { role: 'assistant', content: '', refusal: null }, null, u)];
  for (let i = 0; i < p.chunks; i++)
    frames.push(sseChunk(id, model, { content: WORDS[i % WORDS.length] }, null, u));
  frames.push(sseChunk(id, model, {}, 'stop', u));
  if (includeUsage) {
    frames.push(
      sseChunk(id, model, null, null, {
        prompt_tokens: pTok,
        completion_tokens: p.chunks,
        total_tokens: pTok + p.chunks,
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
        completion_tokens_details: {
          reasoning_tokens: 0,
          audio_tokens: 0,
          accepted_prediction_tokens: 0,
          rejected_prediction_tokens: 0,
        },
      }),
    );
  }
  frames.push('data: [DONE]\n\n');
  for (let i = 0; i < frames.length; i++) {
    if (res.destroyed) return;
    res.write(frames[i]);
    if (p.chunkDelay > 0 && i < frames.length - 1) await sleep(p.chunkDelay);
  }
  res.end();
}

function sendJson(res, status, s) {
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(s),
    'x-request-id': nextId('req'),
  });
  res.end(s);
}

const MODELS = JSON.stringify({
  object: 'list',
  data: ['gpt-4o-mini', 'gpt-4o', 'text-embedding-3-small', 'mock-d20-c5-n10'].map((id) => ({
    id,
    object: 'model',
    created: CREATED,
    owned_by: 'mock',
  })),
});

const EMBED_VEC = Array.from({ length: EMBED_DIM }, (_, i) =>
  Number((Math.sin(i) / 10).toFixed(6)),
);

async function handle(req, res, raw) {
  const url = req.url.split('?')[0].replace(/^\/v1(?=\/)/, '');
  if (req.method === 'GET' && url === '/models') return sendJson(res, 200, MODELS);
  if (req.method === 'GET' && (url === '/health' || url === '/'))
    return sendJson(res, 200, '{"status":"ok"}');
  if (req.method !== 'POST')
    return sendJson(res, 404, '{"error":{"message":"not found","type":"invalid_request_error"}}');

  let body;
  try {
    body = raw.length ? JSON.parse(raw) : {};
  } catch {
    return sendJson(
      res,
      400,
      '{"error":{"message":"invalid JSON body","type":"invalid_request_error"}}',
    );
  }
  const model = typeof body.model === 'string' ? body.model : 'gpt-4o-mini';
  const p = params(model, DEFAULTS);
  const pTok = promptTokens(raw);

  if (url === '/chat/completions') {
    if (body.stream === true)
      return streamChat(res, model, p, !!body.stream_options?.include_usage, pTok);
    if (p.delay > 0) await sleep(p.delay);
    return sendJson(res, 200, chatBody(model, p.chunks, pTok));
  }
  if (url === '/embeddings') {
    const inputs = Array.isArray(body.input) ? body.input : [body.input ?? ''];
    if (p.delay > 0) await sleep(p.delay);
    return sendJson(
      res,
      200,
      JSON.stringify({
        object: 'list',
        data: inputs.map((_, index) => ({ object: 'embedding', index, embedding: EMBED_VEC })),
        model,
        usage: { prompt_tokens: pTok, total_tokens: pTok },
      }),
    );
  }
  return sendJson(res, 404, '{"error":{"message":"not found","type":"invalid_request_error"}}');
}

const server = http.createServer(
  { keepAliveTimeout: 65_000, requestTimeout: 30_000 },
  (req, res) => {
    const parts = [];
    req.on('data', (c) => parts.push(c));
    req.on('end', () => {
      const raw = parts.length === 1 ? parts[0].toString() : Buffer.concat(parts).toString();
      handle(req, res, raw).catch((e) => {
        if (!res.headersSent) sendJson(res, 500, JSON.stringify({ error: { message: String(e) } }));
        else res.destroy();
      });
    });
  },
);
server.headersTimeout = 20_000;
server.listen(PORT, HOST, () => {
  console.log(
    `mock-upstream listening on http://${HOST}:${PORT} delay=${DELAY_MS}ms chunkDelay=${CHUNK_DELAY_MS}ms chunks=${CHUNKS}`,
  );
});
if (MAX_SECONDS > 0) setTimeout(() => process.exit(0), MAX_SECONDS * 1000).unref();
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => process.exit(0));
