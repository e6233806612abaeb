/**
 * A Map whose entries expire like Redis keys: on the real clock (Redis expires keys on its own clock,
 * not the caller's nowMs), lazily on read, plus a sweep every 1 024 writes so abandoned keys (closed
 * periods, crashed requests) do not pile up in a long-running embedded process.
 */
export class TtlMap<V> {
  #entries = new Map<string, { value: V; expiresAt: number }>();
  #writes = 0;

  get(key: string): V | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= Date.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  /** Replaces the value and its lifetime. */
  set(key: string, value: V, ttlMs: number) {
    this.#entries.set(key, { value, expiresAt: Date.now() + ttlMs });
    if (++this.#writes % 1024 === 0) this.sweep();
  }

  /** The live value, or a new one from `create` (which lives until extended). */
  getOrCreate(key: string, create: () => V): V {
    const found = this.get(key);
    if (found !== undefined) return found;
    const value = create();
    this.set(key, value, Number.POSITIVE_INFINITY);
    return value;
  }

  /** Extend-only, like the scripts' extend(): a key never loses life it was given before. A key
   * created by getOrCreate has no lifetime yet (infinite), so its first extend sets one. */
  extend(key: string, ttlMs: number) {
    const e = this.#entries.get(key);
    if (!e) return;
    const next = Date.now() + ttlMs;
    if (e.expiresAt === Number.POSITIVE_INFINITY || e.expiresAt < next) e.expiresAt = next;
  }

  delete(key: string) {
    this.#entries.delete(key);
  }

  sweep() {
    const now = Date.now();
    for (const [k, e] of this.#entries) if (e.expiresAt <= now) this.#entries.delete(k);
  }
}
