// How every `homing` command ends when something goes wrong: one exit-code table, one error
// class, and the words a user reads for the errors libraries and Node throw. cli.ts prints what
// `describeError` gives, as `homing: message` on stderr or, with --json, as
// {"error":{"code","message"}} on stdout. The table is in apps/mta/README.md ("Exit codes").
import { isDnsError } from '@homing/dns';
import { CommanderError } from 'commander';
import { isConfigError } from './config/config-error';
import { isControlError } from './server/control/control-error';

/** The exit codes of every command (sysexits.h EX_TEMPFAIL for "try again later"). */
export const EXIT = { ok: 0, failure: 1, usage: 2, notFound: 3, temporary: 75 } as const;

/** One of the exit codes of `EXIT`. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

const marker = Symbol.for('@homing/mta.CommandError');

/** The one error class of the command line: a message in the user's words, a string code, the exit code. */
export class CommandError extends Error {
  readonly code: string;
  readonly exitCode: ExitCode;
  readonly [marker] = true;
  override readonly name = 'CommandError';

  constructor(code: string, message: string, exitCode: ExitCode = EXIT.failure, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.exitCode = exitCode;
  }
}

/** True when `error` is a CommandError, even from another copy of the module. */
export function isCommandError(error: unknown): error is CommandError {
  return typeof error === 'object' && error !== null && (error as { [marker]?: unknown })[marker] === true;
}

/** The command was called wrongly (a bad argument, option or combination): exit 2. */
export function usageError(message: string, code = 'USAGE'): CommandError {
  return new CommandError(code, message, EXIT.usage);
}

/** What the command was asked about does not exist (a user, a message, a DNS name, a file): exit 3. */
export function notFoundError(message: string, code = 'NOT_FOUND'): CommandError {
  return new CommandError(code, message, EXIT.notFound);
}

/** It may work later (DNS timeout, a server deferring): exit 75. */
export function temporaryError(message: string, code = 'TEMPORARY'): CommandError {
  return new CommandError(code, message, EXIT.temporary);
}

/** What the user is told: a code, a message, the exit code; `verbatim` messages are printed without `homing: `. */
export interface ErrorReport {
  code: string;
  message: string;
  exitCode: ExitCode;
  verbatim?: boolean;
}

const dnsExit: Record<string, ExitCode> = {
  NXDOMAIN: EXIT.notFound,
  NODATA: EXIT.notFound,
  BADNAME: EXIT.usage,
  SERVFAIL: EXIT.temporary,
  TIMEOUT: EXIT.temporary,
  REFUSED: EXIT.temporary,
};

const controlExit: Record<string, ExitCode> = {
  NOT_RUNNING: EXIT.notFound,
  TIMEOUT: EXIT.temporary,
  NOT_FOUND: EXIT.notFound,
  BAD_REQUEST: EXIT.usage,
  UNKNOWN_COMMAND: EXIT.usage,
};

/** Node's system errors (errno codes) in words, with what to do; `path` is the file or address concerned. */
function systemError(error: NodeJS.ErrnoException): ErrorReport | undefined {
  const where = error.path ?? (error as { address?: string }).address;
  const at = where === undefined ? '' : `${where}: `;
  switch (error.code) {
    case 'ENOENT':
      return { code: 'ENOENT', message: `${at}no such file or directory`, exitCode: EXIT.notFound };
    case 'EACCES':
    case 'EPERM':
      return {
        code: error.code,
        message: `${at}permission denied (run as a user who may, or change its mode)`,
        exitCode: EXIT.failure,
      };
    case 'EEXIST':
      return {
        code: 'EEXIST',
        message: `${at}already exists; remove it or choose another name`,
        exitCode: EXIT.failure,
      };
    case 'EISDIR':
      return { code: 'EISDIR', message: `${at}is a directory, not a file`, exitCode: EXIT.usage };
    case 'ENOTDIR':
      return { code: 'ENOTDIR', message: `${at}a part of the path is not a directory`, exitCode: EXIT.usage };
    case 'EPIPE':
      return {
        code: 'EPIPE',
        message: 'the other side closed the connection before everything was written',
        exitCode: EXIT.failure,
      };
    case 'ECONNREFUSED':
      return {
        code: 'ECONNREFUSED',
        message: `${at}nothing is listening there (connection refused)`,
        exitCode: EXIT.temporary,
      };
    case 'EADDRINUSE':
      return {
        code: 'EADDRINUSE',
        message: `${at}the address is already in use; pick another`,
        exitCode: EXIT.failure,
      };
    case 'EADDRNOTAVAIL':
      return { code: 'EADDRNOTAVAIL', message: `${at}this machine has no such address`, exitCode: EXIT.usage };
    case 'ENOSPC':
      return { code: 'ENOSPC', message: `${at}the disk is full`, exitCode: EXIT.temporary };
    default:
      return undefined;
  }
}

/** OpenSSL's messages (`error:0480006C:PEM routines::no start line`) in words. */
function cryptoError(error: Error & { code?: string }): ErrorReport | undefined {
  const openssl = /^error:[0-9A-Fa-f]{8}:([^:]*):[^:]*:(.*)$/.exec(error.message);
  if (openssl === null && !error.code?.startsWith('ERR_OSSL')) return undefined;
  const reason = (openssl?.[2] ?? error.message).toLowerCase();
  const message =
    reason.includes('no start line') || reason.includes('unsupported') || reason.includes('bad base64')
      ? 'the file is not a PEM private key or certificate (no "-----BEGIN" line it can read)'
      : reason.includes('key values mismatch')
        ? 'the private key does not belong to the certificate'
        : reason.includes('bad decrypt') || reason.includes('bad password')
          ? 'the private key is encrypted: give it without a passphrase'
          : `the key or certificate cannot be used (${reason})`;
  return { code: 'BAD_KEY_OR_CERTIFICATE', message, exitCode: EXIT.usage };
}

/** What to tell the user about `error`, whatever threw it. */
export function describeError(error: unknown): ErrorReport {
  if (isCommandError(error)) return { code: error.code, message: error.message, exitCode: error.exitCode };
  if (error instanceof CommanderError) {
    // Commander says "error: ..." for every usage problem; help and --version exit 0.
    const message =
      error.code === 'commander.help'
        ? 'a command is needed here; run with --help for the list'
        : error.message.replace(/^error: /, '');
    return { code: 'USAGE', message, exitCode: error.exitCode === 0 ? EXIT.ok : EXIT.usage };
  }
  if (isConfigError(error)) {
    // Config problems are printed as they are, one file:line:column per line, as editors read them.
    const exitCode = error.code === 'FILE_NOT_FOUND' || error.code === 'USER_NOT_FOUND' ? EXIT.notFound : EXIT.failure;
    return { code: error.code, message: error.message, exitCode, verbatim: true };
  }
  if (isControlError(error)) {
    return { code: error.code, message: error.message, exitCode: controlExit[error.code] ?? EXIT.failure };
  }
  if (typeof error !== 'object' || error === null) {
    return { code: 'FAILED', message: String(error), exitCode: EXIT.failure };
  }
  if (isDnsError(error)) {
    const message = `${error.message} [${error.code}]`;
    return { code: error.code, message, exitCode: dnsExit[error.code] ?? EXIT.failure };
  }
  const coded = error as Error & { code?: unknown; syscall?: unknown };
  const code = typeof coded.code === 'string' ? coded.code : undefined;
  if (code !== undefined && typeof coded.syscall === 'string') {
    const report = systemError(coded as NodeJS.ErrnoException);
    if (report) return report;
  }
  const crypto = error instanceof Error ? cryptoError(error as Error & { code?: string }) : undefined;
  if (crypto) return crypto;
  return {
    code: code ?? 'FAILED',
    message: error instanceof Error ? error.message : String(error),
    exitCode: EXIT.failure,
  };
}
