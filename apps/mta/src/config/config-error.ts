/** What went wrong with a config (or the users file it names). */
export type ConfigErrorCode =
  /** The file is not there: `homing config check` exits 3 for it. */
  | 'FILE_NOT_FOUND'
  /** The file is there but cannot be read (permissions, a directory). */
  | 'FILE_UNREADABLE'
  /** YAML syntax, unknown keys, bad values, missing files the config names: see `problems`. */
  | 'INVALID_CONFIG'
  /** A users file cannot be written (or locked). */
  | 'USERS_FILE_UNWRITABLE'
  /** `homing user add` of an address the users file already has. */
  | 'USER_EXISTS'
  /** `homing user passwd|remove` of an address the users file does not have. */
  | 'USER_NOT_FOUND';

/** One thing wrong, at a place in a file: printed as `file:line:column: path: message`. */
export interface ConfigProblem {
  file: string;
  /** 1-based; 0 when the problem is about the file as a whole. */
  line: number;
  /** 1-based; 0 when the problem is about the file as a whole. */
  column: number;
  /** The dotted key path (`tls.cert`, `listen.mx[1]`), or '' for the file or the YAML syntax. */
  path: string;
  /** What is wrong and what to write instead. */
  message: string;
}

/** Renders a problem the way compilers do, so editors can jump to it. */
export function formatProblem(problem: ConfigProblem): string {
  const where = problem.line > 0 ? `${problem.file}:${problem.line}:${problem.column}` : problem.file;
  return problem.path === '' ? `${where}: ${problem.message}` : `${where}: ${problem.path}: ${problem.message}`;
}

const marker = Symbol.for('@homing/mta.ConfigError');

/** The one error class of the config and users files: a string `code` and every problem found. */
export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  readonly problems: ConfigProblem[];
  readonly [marker] = true;
  override readonly name = 'ConfigError';

  constructor(code: ConfigErrorCode, problems: ConfigProblem[], options?: { cause?: unknown }) {
    // One problem per line, all of them: a user fixes every mistake in one pass.
    super(problems.map(formatProblem).join('\n'), options);
    this.code = code;
    this.problems = problems;
  }
}

/** True when `error` is a ConfigError (of `code`, when given), even from another copy of the module. */
export function isConfigError(error: unknown, code?: ConfigErrorCode): error is ConfigError {
  if (typeof error !== 'object' || error === null) return false;
  const candidate = error as { [marker]?: unknown; code?: unknown; name?: unknown };
  if (candidate[marker] !== true && candidate.name !== 'ConfigError') return false;
  return code === undefined || candidate.code === code;
}
