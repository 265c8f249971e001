/**
 * Which messages of each batch file are still live, and which already left: a batch file is
 * deleted when its last live message leaves, and until then every message of it that left must
 * stay recorded as done in journal snapshots, or a recovery would bring it back from the file.
 */
export class BatchOccupancy {
  constructor(
    /** batch -> ids of its messages still live */
    private readonly live = new Map<string, Set<string>>(),
    /** batch -> ids of its messages already gone */
    private readonly gone = new Map<string, Set<string>>(),
  ) {}

  add(batch: string, id: string): void {
    const ids = this.live.get(batch) ?? new Set<string>();
    this.live.set(batch, ids);
    ids.add(id);
  }

  /** Records that a message left; true when no message of its batch is live any more (delete the file). */
  leave(batch: string, id: string): boolean {
    const live = this.live.get(batch);
    live?.delete(id);
    if (live !== undefined && live.size > 0) {
      const gone = this.gone.get(batch) ?? new Set<string>();
      this.gone.set(batch, gone);
      gone.add(id);
      return false;
    }
    this.live.delete(batch);
    this.gone.delete(batch);
    return true;
  }

  /** The ids a snapshot must keep as done. */
  *goneIds(): Iterable<string> {
    for (const ids of this.gone.values()) yield* ids;
  }
}
