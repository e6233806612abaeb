export { type BusOptions, createBus } from './factory.ts';
export { createMemoryLimiter, type MemoryLimiterOptions } from './limiter/memory.ts';
export { createRedisLimiter, type RedisLimiterOptions } from './limiter/redis.ts';
export { CountersNotRebuiltError, counterKeyTtlMs } from './limits.ts';
export { createMemoryPolicyBus } from './policy/memory.ts';
export { createRedisPolicyBus, type RedisPolicyBusOptions } from './policy/redis.ts';
export type * from './types.ts';
export { createMemoryUsageStream } from './usage/memory.ts';
export { createRedisUsageStream, type RedisUsageStreamOptions } from './usage/redis.ts';
