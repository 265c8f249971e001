import type { SessionInfo } from './options';

/** What the info object reads from its connection when a hook asks. */
export interface ConnectionFacts {
  sessionId(): string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  signal(): AbortSignal;
}

/** `SessionInfo` of one connection: the addresses and id are read when a hook asks. */
export class ConnectionInfo implements SessionInfo {
  hello: SessionInfo['hello'] = undefined;
  user: string | undefined = undefined;
  tags: SessionInfo['tags'] = [];
  envelope: SessionInfo['envelope'] = { from: undefined, mailParams: undefined, to: [] };
  readonly #connection: ConnectionFacts;

  constructor(
    connection: ConnectionFacts,
    readonly localAddress: string,
    readonly localPort: number,
    public secure: boolean,
  ) {
    this.#connection = connection;
  }

  get id(): string {
    return this.#connection.sessionId();
  }

  get remoteAddress(): string {
    return this.#connection.remoteAddress;
  }

  get remotePort(): number {
    return this.#connection.remotePort;
  }

  get signal(): AbortSignal {
    return this.#connection.signal();
  }

  /** What a logger shows: the fields, not the connection behind them. */
  toJSON(): Omit<SessionInfo, 'signal'> {
    const { id, remoteAddress, remotePort, localAddress, localPort, secure, hello, user, tags, envelope } = this;
    return { id, remoteAddress, remotePort, localAddress, localPort, secure, hello, user, tags, envelope };
  }
}
