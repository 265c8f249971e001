/**
 * A pino-compatible logger: pino's `(object, message?)` order, so a pino logger (or a child of
 * one) fits as it is. Every @homing package declares this same `Logger` shape itself, so that the
 * base packages need not depend on each other (docs/naming.md); a test keeps them identical.
 */
export interface Logger {
  debug(object: object, message?: string): void;
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
}
