/** The codes a `ControlError` carries. The server's own answers use the same codes, and a queue error keeps its code. */
export type ControlErrorCode =
  /** Nobody answers on the socket: no server runs there (ENOENT, ECONNREFUSED). */
  | 'NOT_RUNNING'
  /** The socket exists but this user may not connect to it (EACCES, EPERM). */
  | 'PERMISSION'
  /** Another server already answers on the socket a new one was asked to listen on. */
  | 'ALREADY_RUNNING'
  /** The path is there and is not a socket; it is left alone. */
  | 'NOT_A_SOCKET'
  /** No answer within the time given. */
  | 'TIMEOUT'
  /** The peer broke the protocol (not JSON, wrong id, too long, closed before answering). */
  | 'PROTOCOL'
  /** The request is not a request this server takes (shape or arguments). */
  | 'BAD_REQUEST'
  | 'UNKNOWN_COMMAND'
  /** The server refused the new config: the message is the config error; the old config stays. */
  | 'RELOAD_FAILED'
  /** Anything else the server failed at; the message says what. */
  | 'INTERNAL'
  /** A code the server sent that this copy does not know (a queue error's, e.g. NOT_FOUND). */
  | (string & {});

const marker = Symbol.for('@homing/mta.ControlError');

/** The one error of the control socket, on both sides: a string `code` and a message that says what to do. */
export class ControlError extends Error {
  readonly code: ControlErrorCode;
  readonly [marker] = true;
  override readonly name = 'ControlError';

  constructor(code: ControlErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** True when `error` is a ControlError (of `code`, when given), even from another copy of the module. */
export function isControlError(error: unknown, code?: ControlErrorCode): error is ControlError {
  if (typeof error !== 'object' || error === null) return false;
  const candidate = error as { [marker]?: unknown; name?: unknown; code?: unknown };
  if (candidate[marker] !== true && candidate.name !== 'ControlError') return false;
  return code === undefined || candidate.code === code;
}
