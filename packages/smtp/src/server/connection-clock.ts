import { randomBytes } from 'node:crypto';

/**
 * A connection's idle and session time (RFC 5321 4.5.3.2.7), checked by the server's sweep rather
 * than by a timer per connection. Idle time counts from the later of the client's last bytes and
 * our last reply, and never while we are the ones the client waits for. That wait (a hook
 * deciding, a `data` hook not reading the body) has its own limit: it counts from the last
 * progress (a decision, a body read), so a slow but moving reader never reaches it.
 */
export class ConnectionClock {
  readonly #startedAt: number;
  #idleSince: number;
  // Something happened since the last sweep.
  #active = false;
  // Since when the client has been waiting for us with nothing moving (undefined: it is not).
  #busySince: number | undefined;

  constructor(now: number) {
    this.#startedAt = now;
    this.#idleSince = now;
  }

  /** The client sent bytes, we replied, or the body reader caught up. */
  touch(): void {
    this.#active = true;
  }

  /**
   * Which limit is reached at `now`, if any. `busy`: we are the ones waiting (a hook deciding, a
   * body read slowly), so this is not the client's idle time; `hook` when that wait has made no
   * progress for `hookTimeoutMs`.
   */
  due(
    now: number,
    busy: boolean,
    limits: { idleTimeoutMs: number; sessionTimeoutMs: number; hookTimeoutMs: number },
  ): 'session' | 'idle' | 'hook' | null {
    if (now - this.#startedAt >= limits.sessionTimeoutMs) return 'session';
    if (this.#active) {
      this.#active = false;
      this.#idleSince = now;
      this.#busySince = busy ? now : undefined;
      return null;
    }
    if (busy) {
      this.#idleSince = now;
      this.#busySince ??= now;
      return now - this.#busySince >= limits.hookTimeoutMs ? 'hook' : null;
    }
    this.#busySince = undefined;
    return now - this.#idleSince >= limits.idleTimeoutMs ? 'idle' : null;
  }
}

// Session ids: a random prefix per process and a counter, cheaper than random bytes per connection.
const ID_PREFIX = randomBytes(4).toString('hex');
let idCounter = 0;

/** The next connection's serial number, formatted by `sessionIdOf` only when a log or hook needs it. */
export function nextSerial(): number {
  idCounter = (idCounter + 1) % 0x100000000;
  return idCounter;
}

/** The session id of a serial: the process prefix and eight hex digits. */
export function sessionIdOf(serial: number): string {
  return ID_PREFIX + serial.toString(16).padStart(8, '0');
}
