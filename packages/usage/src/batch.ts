import type { z } from 'zod';
import { USAGE_EVENT_VERSION, type UsageEvent, UsageEventSchema } from './event.ts';

/**
 * A batch of usage events as one stream entry: `{"v":1,"events":[…]}`.
 *
 * Encoding throws: an event the ingestor would refuse is an emitter bug and must surface where it
 * is made (emitters should check each event with UsageEventSchema when they take it, so one bad
 * event never costs a whole batch). Decoding keeps every good event of a batch and reports the bad
 * ones by index — one broken record must not drop its neighbours' money — and throws only when the
 * text as a whole is unreadable, which the consumer should log and skip (retrying cannot fix it).
 */

/** Thrown by encodeUsageBatch for an event that does not match UsageEventSchema. */
export class UsageEncodeError extends Error {
  override readonly name = 'UsageEncodeError';
}

/** Thrown by decodeUsageBatch when the text is not a usage batch at all. */
export class UsageDecodeError extends Error {
  override readonly name = 'UsageDecodeError';
}

export interface RejectedUsageEvent {
  /** Position of the event in the batch. */
  index: number;
  /** Why it was refused (paths and messages, no values). */
  error: string;
}

export interface DecodedUsageBatch {
  events: UsageEvent[];
  rejected: RejectedUsageEvent[];
}

function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

/** Serialise events for the usage stream. Throws UsageEncodeError naming the first bad event. */
export function encodeUsageBatch(events: readonly UsageEvent[]): string {
  const checked = events.map((event, index) => {
    const parsed = UsageEventSchema.safeParse(event);
    if (!parsed.success) {
      throw new UsageEncodeError(`usage event ${index}: ${describe(parsed.error)}`);
    }
    // The parsed copy: unknown fields stripped, exactly what readers will see.
    return parsed.data;
  });
  return JSON.stringify({ v: USAGE_EVENT_VERSION, events: checked });
}

/** Read a batch. Throws UsageDecodeError only when the text as a whole is not a v1 batch. */
export function decodeUsageBatch(text: string): DecodedUsageBatch {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new UsageDecodeError(`usage batch is not JSON: ${(error as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new UsageDecodeError('usage batch is not a JSON object');
  }
  const { v, events } = doc as { v?: unknown; events?: unknown };
  if (v !== USAGE_EVENT_VERSION) {
    throw new UsageDecodeError(
      `usage batch version ${JSON.stringify(v) ?? 'missing'} (this build reads ${USAGE_EVENT_VERSION})`,
    );
  }
  if (!Array.isArray(events)) throw new UsageDecodeError('usage batch has no events array');
  const result: DecodedUsageBatch = { events: [], rejected: [] };
  events.forEach((event: unknown, index) => {
    const parsed = UsageEventSchema.safeParse(event);
    if (parsed.success) result.events.push(parsed.data);
    else result.rejected.push({ index, error: describe(parsed.error) });
  });
  return result;
}
