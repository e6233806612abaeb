/** The events a webhook endpoint can subscribe to (the control plane's list; a test keeps them equal). */
export const WEBHOOK_EVENTS = [
  'sub_account.created',
  'sub_account.budget.warning',
  'sub_account.budget.exhausted',
  'sub_account.rate_limited',
  'sub_account.request.failed',
  'sub_account.balance.low',
  'tag.budget.warning',
  'tag.budget.exhausted',
  'workspace.budget.warning',
  'workspace.budget.exhausted',
  'webhook.endpoint.disabled',
] as const;
