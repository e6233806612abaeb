export { type CounterKeys, createKeys, type TollgateKeys } from './keys.ts';
export {
  type AdmitScriptInput,
  type AdmitScriptReply,
  admitScript,
  peekScript,
  type RaiseManyScriptInput,
  type RedisClient,
  type ReinstateScriptInput,
  type RestoreScriptInput,
  raiseCountScript,
  raiseManyScript,
  raiseScript,
  reinstateScript,
  renewScript,
  restoreScript,
  type ScriptRateSnapshot,
  type SettleScriptInput,
  seedScript,
  settleScript,
} from './scripts.ts';
export { batchWrites, holdWrites } from './write-batching.ts';
