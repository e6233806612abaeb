import type { Route } from '../route.ts';
import { ADMIN_KEY_ROUTES } from './admin-keys.ts';
import { BUDGET_ROUTES } from './budgets.ts';
import { CREDIT_ROUTES } from './credits.ts';
import { KEY_ROUTES } from './keys.ts';
import { PLAN_ROUTES } from './plans.ts';
import { PRICE_ROUTES } from './prices.ts';
import { PROVIDER_KEY_ROUTES } from './provider-keys.ts';
import { SUB_ACCOUNT_ROUTES } from './sub-accounts.ts';
import { USAGE_ROUTES } from './usage.ts';
import { WEBHOOK_ROUTES } from './webhooks.ts';
import { WORKSPACE_ROUTES } from './workspaces.ts';

/**
 * SPEC §4, one module per resource; every handler calls the same services as GraphQL. Each path
 * belongs to one module, whose order of methods is the order a 405's `allow` header lists them.
 */
export const ROUTES: Route[] = [
  ...WORKSPACE_ROUTES,
  ...ADMIN_KEY_ROUTES,
  ...PLAN_ROUTES,
  ...SUB_ACCOUNT_ROUTES,
  ...CREDIT_ROUTES,
  ...KEY_ROUTES,
  ...PROVIDER_KEY_ROUTES,
  ...USAGE_ROUTES,
  ...BUDGET_ROUTES,
  ...PRICE_ROUTES,
  ...WEBHOOK_ROUTES,
];
