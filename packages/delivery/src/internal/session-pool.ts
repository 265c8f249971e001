import type { SmtpClient } from '@homing/smtp/client';
import { Limiter } from './limiter';

/** An open session and what it has done. */
export interface PooledSession {
  client: SmtpClient;
  /** Destination and TLS requirements: a session is only reused for the same key. */
  key: string;
  /** Messages sent on it so far. */
  sent: number;
  timer?: NodeJS.Timeout;
  closed?: boolean;
}

/**
 * Idle SMTP sessions by destination, and the global limit on open connections. A session is
 * reused only while it is usable and has sent fewer than `maxMessages`; an idle one is closed
 * (QUIT) after `idleMs`. When the global limit is reached, the oldest idle session makes room.
 */
export class SessionPool {
  readonly #idle = new Map<string, PooledSession[]>();
  readonly #order: PooledSession[] = [];
  readonly #open: Limiter;
  readonly #closing = new Set<Promise<void>>();

  constructor(
    maxConnections: number,
    readonly maxMessages: number,
    readonly idleMs: number,
  ) {
    this.#open = new Limiter(maxConnections);
  }

  /** An idle usable session for `key`, taken out of the pool. */
  take(key: string): PooledSession | undefined {
    const list = this.#idle.get(key);
    while (list !== undefined && list.length > 0) {
      const session = list.pop()!;
      this.#forget(session);
      if (session.client.usable) return session;
      this.#close(session);
    }
    return undefined;
  }

  /** Waits for room for one more open connection; call `discard` or `put` on the session later. */
  async reserve(signal?: AbortSignal): Promise<void> {
    if (this.#open.tryAcquire()) return;
    const oldest = this.#order[0];
    if (oldest !== undefined) {
      this.#idle.get(oldest.key)?.splice(this.#idle.get(oldest.key)!.indexOf(oldest), 1);
      this.#forget(oldest);
      this.#close(oldest);
    }
    await this.#open.acquire(signal);
  }

  /** Gives back a slot reserved for a connection that never opened. */
  unreserve(): void {
    this.#open.release();
  }

  /** Returns a session after a message: kept idle when it can take more, else closed. */
  put(session: PooledSession): void {
    // A session kept idle while others wait for a connection slot would block them until it times out.
    if (!session.client.usable || session.sent >= this.maxMessages || this.#open.waiting > 0) {
      this.#close(session);
      return;
    }
    const list = this.#idle.get(session.key) ?? [];
    list.push(session);
    this.#idle.set(session.key, list);
    this.#order.push(session);
    session.timer = setTimeout(() => {
      const index = list.indexOf(session);
      if (index >= 0) list.splice(index, 1);
      this.#forget(session);
      this.#close(session);
    }, this.idleMs);
    session.timer.unref?.();
  }

  /** Closes a session that must not be reused (it failed part way, or its TLS was refused). */
  discard(session: PooledSession): void {
    this.#close(session);
  }

  /** Closes every idle session and waits for the closes in flight. */
  async closeAll(): Promise<void> {
    for (const session of [...this.#order]) this.#close(session);
    this.#order.length = 0;
    this.#idle.clear();
    await Promise.all([...this.#closing]);
  }

  #forget(session: PooledSession): void {
    clearTimeout(session.timer);
    const index = this.#order.indexOf(session);
    if (index >= 0) this.#order.splice(index, 1);
  }

  #close(session: PooledSession): void {
    clearTimeout(session.timer);
    if (session.closed) return;
    session.closed = true;
    const closing = session.client
      .close()
      .catch(() => undefined)
      .finally(() => {
        this.#closing.delete(closing);
        this.#open.release();
      });
    this.#closing.add(closing);
  }
}
