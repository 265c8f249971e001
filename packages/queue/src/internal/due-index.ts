/** One scheduled wake-up of a message; stale once the message's `version` moved on. */
export interface DueItem {
  at: number;
  /** The message's acceptance sequence: the tie-break between messages due at the same time. */
  seq: number;
  sequence: number;
  id: string;
  version: number;
}

function before(a: DueItem, b: DueItem): boolean {
  if (a.at !== b.at) return a.at < b.at;
  if (a.seq !== b.seq) return a.seq < b.seq;
  return a.sequence < b.sequence;
}

/**
 * A binary min-heap of when each message may next have claimable work, so `claim` touches
 * only the messages that are due instead of scanning the whole queue. Items are never
 * updated in place: a change pushes a new item and the old one is skipped as stale.
 */
export class DueIndex {
  private heap: DueItem[] = [];
  private sequence = 0;

  get size(): number {
    return this.heap.length;
  }

  push(id: string, at: number, seq: number, version: number): void {
    this.heap.push({ at, seq, id, version, sequence: this.sequence++ });
    let index = this.heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!before(this.heap[index]!, this.heap[parent]!)) break;
      [this.heap[index], this.heap[parent]] = [this.heap[parent]!, this.heap[index]!];
      index = parent;
    }
  }

  /** Removes and returns the earliest item if it is due at `now`. */
  popDue(now: number): DueItem | undefined {
    const top = this.heap[0];
    if (top === undefined || top.at > now) return undefined;
    const last = this.heap.pop()!;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      let index = 0;
      for (;;) {
        const left = index * 2 + 1;
        const right = left + 1;
        let smallest = index;
        if (left < this.heap.length && before(this.heap[left]!, this.heap[smallest]!)) smallest = left;
        if (right < this.heap.length && before(this.heap[right]!, this.heap[smallest]!)) smallest = right;
        if (smallest === index) break;
        [this.heap[index], this.heap[smallest]] = [this.heap[smallest]!, this.heap[index]!];
        index = smallest;
      }
    }
    return top;
  }

  clear(): void {
    this.heap = [];
  }
}
