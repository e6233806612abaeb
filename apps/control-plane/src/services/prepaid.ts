import type { SubAccount } from '@tollgate/db';
import { z } from 'zod';
import { ValidationError } from '../lib/errors.ts';
import type { Tx } from './context.ts';

/** One top-up is at most $1 000 000 (in cents); the running total stays far inside safe integers. */
export const MAX_TOP_UP_CENTS = 100_000_000;

/** Without its own threshold, `balance.low` fires below 10 % of the credits bought. */
export const DEFAULT_LOW_BALANCE_PERCENT = 10n;

/** Settings of the sub-account service this module owns (validated there with the others). */
export const prepaidSettings = {
  prepaid: z.boolean(),
  lowBalanceThresholdCents: z
    .number()
    .int('must be a whole number of cents')
    .min(0)
    .max(MAX_TOP_UP_CENTS)
    .nullable(),
};

interface PrepaidInput {
  prepaid?: boolean;
  lowBalanceThresholdCents?: number | null;
  spendCapCents?: unknown;
  budgetPeriod?: string;
}

/**
 * The prepaid rules of a create or update, as Prisma data: `prepaid` only with period `total`
 * (which it implies when absent), and no `spend_cap_cents` of its own (credits make the cap).
 * Turning prepaid on sets the cap to the credits already bought (zero for a new sub-account).
 */
export async function prepaidData(
  db: Pick<Tx, 'credit'>,
  input: PrepaidInput,
  current: Pick<SubAccount, 'id' | 'prepaid' | 'budgetPeriod'> | null,
) {
  const prepaid = input.prepaid ?? current?.prepaid ?? false;
  const threshold =
    input.lowBalanceThresholdCents === undefined
      ? undefined
      : input.lowBalanceThresholdCents === null
        ? null
        : BigInt(input.lowBalanceThresholdCents) * 10_000n;
  if (!prepaid) return { prepaid: input.prepaid, lowBalanceThresholdMicros: threshold };
  if (input.spendCapCents !== undefined) {
    throw new ValidationError(
      'a prepaid sub-account has no spend cap of its own: its balance is its credits',
      'spendCapCents',
    );
  }
  const period = input.budgetPeriod ?? (current?.prepaid ? current.budgetPeriod : 'total');
  if (period !== 'total') {
    throw new ValidationError('a prepaid sub-account needs budget_period "total"', 'budgetPeriod');
  }
  const turningOn = !current?.prepaid;
  const credits =
    turningOn && current
      ? ((
          await db.credit.aggregate({
            where: { subAccountId: current.id },
            _sum: { amountMicros: true },
          })
        )._sum.amountMicros ?? 0n)
      : 0n;
  return {
    prepaid: true,
    budgetPeriod: 'total' as const,
    lowBalanceThresholdMicros: threshold,
    ...(turningOn ? { spendCapMicros: credits } : {}),
  };
}
