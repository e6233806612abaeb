/**
 * @tollgate/policy: the policy snapshot wire format (version, revision, checksum), its compiled
 * runtime form, incremental deltas, budget periods, request tags and the pure decide().
 * No I/O and no internal dependencies (DESIGN.md, import rules).
 */

export { canonicalJson, computeChecksum } from './checksum.ts';
export {
  type DecodeFailure,
  type DecodeResult,
  decodeDelta,
  decodePolicyMessage,
  decodeSnapshot,
  decodeSnapshotInSlices,
  encodeDelta,
  encodeSnapshot,
  encodeSnapshotInSlices,
  PolicyEncodeError,
  type PolicyMessage,
  snapshotRevisionOf,
} from './codec.ts';
export {
  type BasePriceLookup,
  type CompiledKey,
  type CompiledPolicy,
  type CompileOptions,
  compile,
  compileInSlices,
  effectiveSubAccount,
  type KeyChain,
  lookupKey,
  type PriceRates,
  priceFor,
  providerRouteFor,
  type ResolvedPrice,
  subAccountRouteFor,
  tagBudgetFor,
  workspacePrices,
} from './compile.ts';
export {
  type DecideInput,
  type Decision,
  type Denial,
  type DenyCode,
  type DenyReason,
  type DenyType,
  decide,
} from './decide.ts';
export { type ApplyDeltaResult, applyDelta, type CatchUpResult, catchUp } from './delta.ts';
export {
  type BudgetPeriod,
  BudgetPeriodSchema,
  INHERITABLE_FIELDS,
  type InheritableField,
  InheritableFieldSchema,
  type KeyPolicy,
  KeyPolicySchema,
  type PlanPolicy,
  PlanPolicySchema,
  type PricePolicy,
  PricePolicySchema,
  type ProviderRoutePolicy,
  ProviderRoutePolicySchema,
  type SubAccountPolicy,
  SubAccountPolicySchema,
  type SubAccountStatus,
  SubAccountStatusSchema,
  type TagBudgetPolicy,
  TagBudgetPolicySchema,
  type WorkspacePolicy,
  WorkspacePolicySchema,
} from './entities.ts';
export { type PeriodWindow, periodKey, periodWindow } from './period.ts';
export type { ShardedMap, ShardedMapEditor } from './sharded-map.ts';
export {
  MAX_TAG_LENGTH,
  MAX_TAGS,
  parseRequestTags,
  resolveTags,
  TagError,
  type TagSource,
  withDefaultTag,
} from './tags.ts';
export {
  POLICY_WIRE_VERSION,
  type PolicyDelta,
  type PolicyDeltaBody,
  PolicyDeltaSchema,
  type PolicySnapshot,
  type PolicySnapshotBody,
  PolicySnapshotSchema,
} from './wire.ts';
