// What `homing user` needs from a config: the users file and the domains, without validating the
// rest (the users file may not exist yet, and a wrong certificate path must not stop `user add`).
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigError } from './config-error';
import { parseDomain } from './config-values';
import { positionOf } from './yaml-positions';

/** The users file a config names (absolute) and its domains (empty when they do not parse). */
export async function readUsersSetting(file: string): Promise<{ users: string; domains: string[] }> {
  const where = { file, line: 0, column: 0, path: '' };
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    const message =
      error.code === 'ENOENT'
        ? 'config file does not exist; pass --config FILE, or --users FILE for the users file itself'
        : `cannot read the config file (${error.code ?? error.message})`;
    throw new ConfigError(error.code === 'ENOENT' ? 'FILE_NOT_FOUND' : 'FILE_UNREADABLE', [{ ...where, message }], {
      cause: error,
    });
  });
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (document.errors.length > 0) {
    const error = document.errors[0]!;
    const { line, col } = lines.linePos(error.pos[0]);
    throw new ConfigError('INVALID_CONFIG', [
      { file, line, column: col, path: '', message: `YAML syntax error: ${error.message}` },
    ]);
  }
  const input = (document.toJS({ maxAliasCount: 100 }) ?? {}) as Record<string, unknown>;
  const users = input.users;
  if (typeof users !== 'string' || users.trim() === '') {
    const { line, column } = positionOf(document, lines, ['users']);
    throw new ConfigError('INVALID_CONFIG', [
      {
        file,
        line,
        column,
        path: 'users',
        message: 'missing; give the path of the users file, e.g. users: /etc/homing/users',
      },
    ]);
  }
  const written = [input.domain, ...(Array.isArray(input.domains) ? input.domains : [input.domains])];
  const domains = written.flatMap((value) => {
    if (value === undefined) return [];
    const parsed = parseDomain(value, 'example.org');
    return parsed.ok ? [parsed.value] : [];
  });
  const path = users.trim();
  return { users: isAbsolute(path) ? path : resolve(dirname(file), path), domains };
}
