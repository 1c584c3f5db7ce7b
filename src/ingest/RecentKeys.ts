/**
 * The keys of recently admitted events, bounded (oldest forgotten first). A gateway retrying
 * a request it timed out on gets "duplicate" at once instead of a second trip to the database;
 * anything older is still caught by the tables' unique keys at commit.
 */
export class RecentKeys {
  private readonly keys = new Set<string>()
  /** Insertion order, as a ring: evicting the oldest is one array read, not a walk over a Set's deleted slots. */
  private readonly order: Array<string | undefined>
  private next = 0

  constructor(private readonly capacity: number) {
    this.order = new Array<string | undefined>(capacity)
  }

  has(key: string): boolean {
    return this.keys.has(key)
  }

  add(key: string): void {
    if (this.keys.has(key)) return
    const oldest = this.order[this.next]
    if (oldest !== undefined) this.keys.delete(oldest)
    this.order[this.next] = key
    this.next = (this.next + 1) % this.capacity
    this.keys.add(key)
  }

  /**
   * Forgets a key: the database refused its event, so a corrected re-send with the same id is
   * not a duplicate. (Its slot in the ring stays; evicting it later deletes nothing, or a copy
   * of the key added again since — one dedup hint lost, the tables' keys still decide.)
   */
  delete(key: string): void {
    this.keys.delete(key)
  }

  get size(): number {
    return this.keys.size
  }
}
