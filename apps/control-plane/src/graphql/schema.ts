import { builder } from './builder.ts';
import './types/errors.ts';
import './types/common.ts';
import './types/workspace.ts';
import './types/admin-key.ts';
import './types/sub-account.ts';
import './types/sub-account-key.ts';
import './types/usage.ts';
import './types/budget.ts';
import './types/price.ts';
import './types/plan.ts';
import './types/provider-key.ts';
import './types/webhook.ts';
import './types/events.ts';
import './types/credits.ts';
import './types/console.ts';

/** The control-plane schema: every domain registers itself on the builder when imported. */
export const schema = builder.toSchema();
