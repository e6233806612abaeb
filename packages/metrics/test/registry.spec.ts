import { describe, expect, it } from 'vitest';
import { createRegistry, parseExposition } from '../src/index.ts';

describe('metrics registry', () => {
  it('renders counters, gauges and histograms in the text exposition format', async () => {
    const r = createRegistry();
    const req = r.counter('tg_requests_total', 'Requests.\nBy status \\ reason.', [
      'status',
      'reason',
    ]);
    const ok = req.labels('200', 'ok');
    ok.inc();
    ok.inc(2);
    req.labels('402', 'cap "x"\nline\\').inc();
    const open = r.gauge('tg_open', 'Open things.');
    open.inc(5);
    open.dec(2);
    const lat = r.histogram('tg_latency_seconds', 'Latency.', [0.1, 1, 10], ['endpoint']);
    const chat = lat.labels('chat');
    chat.observe(0.05);
    chat.observe(0.1);
    chat.observe(5);
    chat.observe(100);
    const text = await r.render();
    expect(text).toContain('# HELP tg_requests_total Requests.\\nBy status \\\\ reason.\n');
    expect(text).toContain('# TYPE tg_requests_total counter\n');
    expect(text).toContain('tg_requests_total{status="200",reason="ok"} 3\n');
    expect(text).toContain('tg_requests_total{status="402",reason="cap \\"x\\"\\nline\\\\"} 1\n');
    expect(text).toContain('# TYPE tg_open gauge\ntg_open 3\n');
    expect(text).toContain(
      [
        '# TYPE tg_latency_seconds histogram',
        'tg_latency_seconds_bucket{endpoint="chat",le="0.1"} 2',
        'tg_latency_seconds_bucket{endpoint="chat",le="1"} 2',
        'tg_latency_seconds_bucket{endpoint="chat",le="10"} 3',
        'tg_latency_seconds_bucket{endpoint="chat",le="+Inf"} 4',
        'tg_latency_seconds_sum{endpoint="chat"} 105.15',
        'tg_latency_seconds_count{endpoint="chat"} 4',
      ].join('\n'),
    );
    const parsed = parseExposition(text);
    expect(parsed.value('tg_requests_total', { status: '402' })).toBe(1);
    expect(parsed.samples.find((s) => s.labels.status === '402')?.labels.reason).toBe(
      'cap "x"\nline\\',
    );
    expect(parsed.value('tg_latency_seconds_bucket', { le: '+Inf' })).toBe(4);
    expect(parsed.types.get('tg_latency_seconds')).toBe('histogram');
  });

  it('resolves a label child once and checks names and values', async () => {
    const r = createRegistry();
    const c = r.counter('a_total', 'A.', ['x']);
    expect(c.labels('1')).toBe(c.labels('1'));
    expect(() => c.labels()).toThrow(/label values/);
    expect(() => c.inc()).toThrow(/labels/);
    expect(() => c.labels('1').inc(-1)).toThrow(/only goes up/);
    expect(() => r.counter('a_total', 'again')).toThrow(/twice/);
    expect(() => r.counter('bad-name', 'x')).toThrow(/invalid metric name/);
    expect(() => r.gauge('g', 'x', ['le'])).toThrow(/invalid label/);
    expect(() => r.histogram('h', 'x', [1, 1])).toThrow(/increase/);
  });

  it('runs collectors before rendering and survives a failing one', async () => {
    const r = createRegistry();
    const depth = r.gauge('queue_depth', 'Depth.');
    let n = 0;
    r.onCollect(async () => {
      n += 7;
      depth.set(n);
    });
    r.onCollect(() => {
      throw new Error('source down');
    });
    expect(parseExposition(await r.render()).value('queue_depth')).toBe(7);
    expect(parseExposition(await r.render()).value('queue_depth')).toBe(14);
  });

  it('the parser rejects malformed exposition', () => {
    expect(() => parseExposition('x 1\n')).toThrow(/before its TYPE/);
    expect(() => parseExposition('# TYPE x counter\nx{a="1} 1\n')).toThrow();
    expect(() => parseExposition('# TYPE x counter\nx one\n')).toThrow(/bad value/);
    expect(() => parseExposition('# TYPE x counter\nx 1')).toThrow(/newline/);
  });
});
