/**
 * @tollgate/usage: the usage-event wire format, data plane → control plane. No I/O and no internal
 * dependencies (DESIGN.md, import rules).
 */

export {
  type DecodedUsageBatch,
  decodeUsageBatch,
  encodeUsageBatch,
  type RejectedUsageEvent,
  UsageDecodeError,
  UsageEncodeError,
} from './batch.ts';
export {
  type BlockedScope,
  BlockedScopeSchema,
  USAGE_EVENT_VERSION,
  type UsageEvent,
  UsageEventSchema,
  type UsageStatus,
  UsageStatusSchema,
} from './event.ts';
