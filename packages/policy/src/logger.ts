/** A pino-compatible logger; the checks log at debug (results) and warn (fetch failures), never to the console. */
export interface PolicyLogger {
  debug(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
}
