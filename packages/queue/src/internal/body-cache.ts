/**
 * The bodies of the messages committed last, kept in memory (bounded in bytes, oldest dropped
 * first), so that a worker that delivers a message right after it was queued, as the local
 * delivery does, reads it without opening and reading its batch file again. Only inline bodies
 * go in: the very buffer that was written and fsynced, so what is read is what is on disk.
 */
export class BodyCache {
  private readonly bodies = new Map<string, { data: Buffer; cost: number }>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  put(id: string, data: Buffer): void {
    // A small buffer may be a slice of Node's shared pool: keeping it keeps the whole slab.
    const cost = Math.max(data.byteLength, data.buffer.byteLength);
    if (data.byteLength === 0 || cost > this.maxBytes) return;
    this.delete(id);
    this.bodies.set(id, { data, cost });
    this.bytes += cost;
    // A Map iterates in insertion order: the first keys are the oldest.
    for (const [oldest, body] of this.bodies) {
      if (this.bytes <= this.maxBytes) break;
      this.bodies.delete(oldest);
      this.bytes -= body.cost;
    }
  }

  get(id: string): Buffer | undefined {
    return this.bodies.get(id)?.data;
  }

  delete(id: string): void {
    const body = this.bodies.get(id);
    if (body === undefined) return;
    this.bodies.delete(id);
    this.bytes -= body.cost;
  }

  clear(): void {
    this.bodies.clear();
    this.bytes = 0;
  }
}
