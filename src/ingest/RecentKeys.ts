/**
 * The keys of recently admitted events, bounded (oldest forgotten first). A gateway retrying
 * a request it timed out on gets "duplicate" at once instead of a second trip to the database;
 * anything older is still caught by the tables' unique keys at commit.
 */
export class RecentKeys {
  private readonly keys = new Set<string>()

  constructor(private readonly capacity: number) {}

  has(key: string): boolean {
    return this.keys.has(key)
  }

  add(key: string): void {
    if (this.keys.has(key)) return
    this.keys.add(key)
    if (this.keys.size > this.capacity) {
      const oldest = this.keys.values().next()
      if (!oldest.done) this.keys.delete(oldest.value)
    }
  }

  get size(): number {
    return this.keys.size
  }
}
