import { randomBytes } from 'node:crypto';

/**
 * A connection's idle and session time (RFC 5321 4.5.3.2.7), checked by the server's sweep rather
 * than by a timer per connection. Idle time counts from the later of the client's last bytes and
 * our last reply, and never while we are the ones the client waits for.
 */
export class ConnectionClock {
  readonly #startedAt: number;
  #idleSince: number;
  // Something happened since the last sweep.
  #active = false;

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
   * body read slowly), so this is not the client's idle time.
   */
  due(
    now: number,
    busy: boolean,
    limits: { idleTimeoutMs: number; sessionTimeoutMs: number },
  ): 'session' | 'idle' | null {
    if (now - this.#startedAt >= limits.sessionTimeoutMs) return 'session';
    if (this.#active || busy) {
      this.#active = false;
      this.#idleSince = now;
      return null;
    }
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
