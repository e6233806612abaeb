export { type CounterKeys, createKeys, type TollgateKeys } from './keys.ts';
export {
  type AdmitScriptInput,
  type AdmitScriptReply,
  admitScript,
  peekScript,
  type RedisClient,
  type RestoreScriptInput,
  raiseCountScript,
  raiseScript,
  renewScript,
  restoreScript,
  type ScriptRateSnapshot,
  type SettleScriptInput,
  seedScript,
  settleScript,
} from './scripts.ts';
export { batchWrites, holdWrites } from './write-batching.ts';
