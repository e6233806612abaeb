import { describe, expect, it } from 'vitest';
import { WEBHOOK_EVENTS as SERVER_EVENTS } from '../../control-plane/src/services/webhooks.ts';
import { WEBHOOK_EVENTS } from '../src/webhook-events.ts';

describe('webhook form', () => {
  it('offers every event the control plane delivers, and no other', () => {
    // The form kept its own list and missed sub_account.balance.low (console audit).
    expect([...WEBHOOK_EVENTS].sort()).toEqual([...SERVER_EVENTS].sort());
  });
});
