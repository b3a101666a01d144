/**
 * Results computed from a workspace's git objects alone, remembered by the object ids they were
 * computed from. Objects are content-addressed and only Arbiter writes a workspace's git
 * directory, so the same ids give the same answer: one activity (measuring a change) can hand
 * its reading to the next (gating it, checking it out) without either trusting the other's input.
 */

/** Freezes a value and, for an array, its items: a remembered reading is shared by every caller, so none may change it. */
function frozen<T>(value: T): T {
  if (Array.isArray(value)) for (const item of value) Object.freeze(item);
  return Object.freeze(value);
}

/** A bounded map from object ids to what was read from them (frozen); the oldest entry goes first. */
export class ObjectCache<T> {
  private readonly entries = new Map<string, T>();

  constructor(private readonly capacity: number) {}

  /** The value for `key`, computing and remembering it on a miss (a failed computation is not remembered). */
  async get(key: readonly string[], compute: () => Promise<T>): Promise<T> {
    const id = key.join('\0');
    const hit = this.entries.get(id);
    if (hit !== undefined) return hit;
    const value = await compute();
    this.set(key, value);
    return value;
  }

  /** True when a value for `key` is remembered. */
  has(key: readonly string[]): boolean {
    return this.entries.has(key.join('\0'));
  }

  /** Remembers `value` for `key`, dropping the oldest entry past capacity. */
  set(key: readonly string[], value: T): void {
    const id = key.join('\0');
    this.entries.delete(id);
    this.entries.set(id, frozen(value));
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
  }
}
