import type { Limiter } from '@tollgate/bus';
import type { CounterInfo } from './refusals.ts';

/**
 * Downgrade routing (a plan's or sub-account's `fallbackModel`): whether a worst case no longer
 * fits what is left on the capped counters. A read, not a reservation — the admission that follows
 * stays the one atomic check-and-reserve, so a race between this read and the admission can only
 * make the request clamped or refused as usual, never overspend. A limiter that cannot be read
 * answers "fits" (no downgrade): the admission then fails closed or open as it always does.
 */
export async function remainingBudget(
  limiter: Limiter,
  workspaceId: string,
  counters: readonly CounterInfo[],
  nowMs: number,
): Promise<number | null> {
  const capped = counters.filter((c) => c.counter.capMicros !== null);
  if (capped.length === 0) return null;
  let balances: Awaited<ReturnType<Limiter['spent']>>;
  try {
    balances = await limiter.spent(
      workspaceId,
      capped.map((c) => c.counter),
      nowMs,
    );
  } catch {
    return null;
  }
  let remaining = Number.POSITIVE_INFINITY;
  for (const c of capped) {
    const b = balances.find((x) => x.scope === c.counter.scope);
    const used = (b?.spentMicros ?? 0) + (b?.reservedMicros ?? 0);
    remaining = Math.min(remaining, Math.max(0, (c.counter.capMicros ?? 0) - used));
  }
  return remaining;
}
