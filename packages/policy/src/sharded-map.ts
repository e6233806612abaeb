/**
 * An immutable string-keyed map that can be "changed" cheaply: entries live in SHARDS plain Maps
 * picked by a hash of the key, and an edit copies only the shards it touches, sharing the rest with
 * the original.
 *
 * Why: a policy delta usually changes one or two entities, while the compiled policy of a large
 * installation holds 100k sub-accounts and more keys. Copying a whole 100k-entry Map per delta costs
 * milliseconds of blocked event loop each time; copying one shard costs ~1/256 of that (a few
 * hundred entries, tens of microseconds). A lookup costs one FNV-1a hash of the key plus two Map
 * reads, which stays far below anything else on the request path.
 */

const SHARD_BITS = 8;
const SHARDS = 1 << SHARD_BITS;
const MASK = SHARDS - 1;

/** FNV-1a over UTF-16 code units: fast, and well spread over ids and hex hashes alike. */
function shardOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) & MASK;
}

const EMPTY_SHARD: ReadonlyMap<string, never> = new Map<string, never>();

/** Mutable view used to build the next version of a ShardedMap; see ShardedMap.edit(). */
export interface ShardedMapEditor<V> {
  get(key: string): V | undefined;
  set(key: string, value: V): void;
  delete(key: string): void;
  /** The new map. The editor must not be used afterwards (its copied shards are now shared). */
  done(): ShardedMap<V>;
}

export class ShardedMap<V> {
  readonly #shards: readonly ReadonlyMap<string, V>[];
  /** Number of entries. */
  readonly size: number;

  private constructor(shards: readonly ReadonlyMap<string, V>[], size: number) {
    this.#shards = shards;
    this.size = size;
  }

  /** Build from entries; a key given twice keeps its last value. O(n). */
  static from<V>(entries: Iterable<readonly [string, V]>): ShardedMap<V> {
    const shards = Array.from({ length: SHARDS }, () => new Map<string, V>());
    let size = 0;
    for (const [key, value] of entries) {
      const shard = shards[shardOf(key)]!;
      if (!shard.has(key)) size++;
      shard.set(key, value);
    }
    return new ShardedMap<V>(shards, size);
  }

  /** `from` over a list, `slice` entries between two yields to the event loop (large policies). */
  static async fromInSlices<T, V>(
    list: readonly T[],
    entry: (item: T) => readonly [string, V],
    slice: number,
  ): Promise<ShardedMap<V>> {
    const shards = Array.from({ length: SHARDS }, () => new Map<string, V>());
    let size = 0;
    for (let at = 0; at < list.length; at++) {
      const [key, value] = entry(list[at]!);
      const shard = shards[shardOf(key)]!;
      if (!shard.has(key)) size++;
      shard.set(key, value);
      if ((at + 1) % slice === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return new ShardedMap<V>(shards, size);
  }

  static empty<V>(): ShardedMap<V> {
    return new ShardedMap<V>(new Array(SHARDS).fill(EMPTY_SHARD), 0);
  }

  get(key: string): V | undefined {
    return this.#shards[shardOf(key)]!.get(key);
  }

  has(key: string): boolean {
    return this.#shards[shardOf(key)]!.has(key);
  }

  /**
   * How many shards this map shares, as the very same objects, with `other`: 256 for a map and
   * itself, 255 after a one-entry edit. Diagnostics and tests (it shows an edit copied little).
   */
  sharedShards(other: ShardedMap<V>): number {
    let shared = 0;
    for (let i = 0; i < SHARDS; i++) if (this.#shards[i] === other.#shards[i]) shared++;
    return shared;
  }

  *values(): IterableIterator<V> {
    for (const shard of this.#shards) yield* shard.values();
  }

  /**
   * Start an edit. Each shard is copied on its first write, so the cost of an edit is the number of
   * distinct shards written times the shard size (size / 256), not the size of the map.
   */
  edit(): ShardedMapEditor<V> {
    const shards = [...this.#shards];
    const copied = new Set<number>();
    let size = this.size;
    const writable = (index: number): Map<string, V> => {
      if (!copied.has(index)) {
        shards[index] = new Map(shards[index]);
        copied.add(index);
      }
      return shards[index] as Map<string, V>;
    };
    return {
      get: (key) => shards[shardOf(key)]!.get(key),
      set: (key, value) => {
        const shard = writable(shardOf(key));
        if (!shard.has(key)) size++;
        shard.set(key, value);
      },
      delete: (key) => {
        const index = shardOf(key);
        if (!shards[index]!.has(key)) return;
        writable(index).delete(key);
        size--;
      },
      done: () => new ShardedMap<V>(shards, size),
    };
  }
}
