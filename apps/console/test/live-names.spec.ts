import { describe, expect, it } from 'vitest';
import {
  describeFeedItem,
  emptyLive,
  type FeedItem,
  feedSubAccountIds,
  type LiveEvent,
  liveReducer,
  SubAccountNames,
} from '../src/live.ts';

// The live feed names sub-accounts this tab never loaded by looking each id up once; the lookup
// here stands for the API (the browser spec drives the real one).

const spend = (subAccountId: string, at: string) => ({
  subAccountId,
  spentCents: 5.2,
  capCents: null,
  period: 'monthly',
  at,
});
const event = (id: string, subAccountId: string | null, scope = 'sub_account'): LiveEvent => ({
  id,
  type: 'warning',
  eventType: 'sub_account.budget.warning',
  scope,
  subAccountId,
  tag: scope === 'tag' ? 'acme' : null,
  threshold: 0.8,
  capCents: 100,
  spentCents: 80,
  createdAt: '2026-12-07T10:00:00Z',
});

const tick = () => new Promise((r) => setTimeout(r, 0));

/** A lookup that answers from `answers` (an Error rejects) and records what it was asked. */
function lookupOf(answers: Record<string, string | null | Error>) {
  const asked: string[] = [];
  const lookup = async (id: string) => {
    asked.push(id);
    await tick();
    const a = answers[id];
    if (a instanceof Error) throw a;
    return a ?? null;
  };
  return { asked, lookup };
}

describe('sub-account names in the live feed', () => {
  it('lists the sub-accounts a feed names, once each (not those of tag or workspace events)', () => {
    let live = emptyLive();
    live = liveReducer(live, { kind: 'spend', spend: spend('sa_1', '2026-12-07T10:00:00Z') });
    live = liveReducer(live, { kind: 'spend', spend: spend('sa_1', '2026-12-07T10:00:01Z') });
    live = liveReducer(live, { kind: 'event', event: event('ev_1', 'sa_2') });
    live = liveReducer(live, { kind: 'event', event: event('ev_2', null, 'workspace') });
    live = liveReducer(live, { kind: 'event', event: event('ev_3', 'sa_3', 'tag') });
    expect(feedSubAccountIds(live.feed).sort()).toEqual(['sa_1', 'sa_2']);
  });

  it('looks an unknown id up once and names it when the answer comes', async () => {
    const { asked, lookup } = lookupOf({ sa_new: 'late-arrival' });
    const names = new SubAccountNames(lookup, new Map([['sa_old', 'acme-corp']]));
    let heard = 0;
    names.subscribe(() => heard++);
    const item: FeedItem = {
      kind: 'spend',
      key: 's:1',
      at: '2026-12-07T10:00:00Z',
      spend: spend('sa_new', '2026-12-07T10:00:00Z'),
    };
    names.resolve(['sa_new', 'sa_old', 'sa_new']);
    // While it loads, the id.
    expect(describeFeedItem(item, names.names)).toBe('sa_new spent $0.052 (no cap)');
    names.resolve(['sa_new']);
    await tick();
    await tick();
    expect(describeFeedItem(item, names.names)).toBe('late-arrival spent $0.052 (no cap)');
    expect(heard).toBe(1);
    names.resolve(['sa_new', 'sa_old']);
    await tick();
    // A known name (loaded by a page) is never looked up; an unknown one only once.
    expect(asked).toEqual(['sa_new']);
  });

  it('keeps the id when the lookup fails or finds nothing, and does not ask again', async () => {
    const { asked, lookup } = lookupOf({ sa_gone: null, sa_err: new Error('network down') });
    const names = new SubAccountNames(lookup, new Map());
    names.resolve(['sa_gone', 'sa_err']);
    await tick();
    await tick();
    const item: FeedItem = { kind: 'event', key: 'e:1', at: '', event: event('ev_1', 'sa_err') };
    expect(describeFeedItem(item, names.names)).toMatch(/^sa_err: crossed 80% of the cap/);
    expect(names.names.size).toBe(0);
    names.resolve(['sa_gone', 'sa_err']);
    expect(asked).toEqual(['sa_gone', 'sa_err']);
  });
});
