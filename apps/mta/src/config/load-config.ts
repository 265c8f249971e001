// Loads homing.yml: YAML with node positions, the zod schema (config-schema.ts), then the checks
// that need several keys or the disk. Every problem found is reported at once, each with its file,
// line and column, so one run of `homing config check` shows every mistake.
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { readUsersFile } from '../users/users-file';
import { ConfigError, type ConfigProblem } from './config-error';
import { configSchema, keysAt, type ParsedYaml } from './config-schema';
import type { Config } from './config-types';
import { formatListenAddress, parseAddress, parseDomain, show } from './config-values';
import { didYouMean } from './did-you-mean';
import { checkStateDirectory, checkTls, checkUsersFile } from './file-checks';
import { completeSending } from './sending-config';
import { formatPath, positionOf } from './yaml-positions';

/** Where `homing start` and the config commands look when no file is given. */
export const defaultConfigFile = '/etc/homing/homing.yml';

// A unix socket path is limited by sockaddr_un.sun_path: 108 bytes on Linux, with the NUL.
const maxSocketPath = 107;

/** Reads, validates and completes the config in `file`; throws a ConfigError with every problem. */
export async function loadConfig(file: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const problem = { file, line: 0, column: 0, path: '' };
    if (code === 'ENOENT') {
      throw new ConfigError(
        'FILE_NOT_FOUND',
        [
          {
            ...problem,
            message: 'config file does not exist; write one (see "Configuration" in the README) or pass --config FILE',
          },
        ],
        { cause: error },
      );
    }
    const why =
      code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : String(code ?? error);
    throw new ConfigError('FILE_UNREADABLE', [{ ...problem, message: `cannot read the config file (${why})` }], {
      cause: error,
    });
  }
  return parseConfig(text, file);
}

/**
 * Validates config `text` as if read from `file` (which names it in messages; relative paths in
 * the config are taken from its directory) and completes it with every default.
 */
export async function parseConfig(text: string, file: string): Promise<Config> {
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigProblem[] = [];
  const at = (path: readonly PropertyKey[], message: string, key = false) => {
    const { line, column } = positionOf(document, lines, path, { key });
    problems.push({ file, line, column, path: formatPath(path), message });
  };

  for (const error of document.errors) {
    const { line, col } = lines.linePos(error.pos[0]);
    const source = text.split('\n')[line - 1] ?? '';
    // `mx: [::]:25` is a YAML flow list followed by junk: the one YAML trap of this config.
    const hint = /\[[0-9a-f:.]*\]:\d/i.test(source) ? '; quote an IPv6 address with its port, e.g. mx: "[::]:25"' : '';
    problems.push({ file, line, column: col, path: '', message: `YAML syntax error: ${error.message}${hint}` });
  }
  if (problems.length > 0) throw new ConfigError('INVALID_CONFIG', problems);

  const input: unknown = document.toJS({ maxAliasCount: 100 });
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    at([], `the config must be a map of keys (key: value lines), such as:\n${minimalExample}`);
    throw new ConfigError('INVALID_CONFIG', problems);
  }

  // Each top-level key on its own, so a bad key does not hide the checks across the others.
  const { parsed, complete: allParsed } = parseKeys(input as Record<string, unknown>, (issue) =>
    reportIssue(issue, input, at),
  );
  // The files are checked even when other keys are wrong, so one run reports every problem.
  const paths = pathsOf(input, file);
  if (paths.cert !== undefined && paths.key !== undefined) {
    const tls = await checkTls(paths.cert, paths.key);
    if (tls.cert !== undefined) at(['tls', 'cert'], tls.cert);
    if (tls.key !== undefined) at(['tls', 'key'], tls.key);
  }
  const usersProblem = paths.users === undefined ? undefined : await checkUsersFile(paths.users);
  if (usersProblem !== undefined) at(['users'], usersProblem);
  const stateProblem = paths.state === undefined ? undefined : await checkStateDirectory(paths.state);
  if (stateProblem !== undefined) at(['state'], stateProblem);

  const config = await complete(parsed, input, file, at, usersProblem === undefined);
  if (problems.length > 0 || config === undefined || !allParsed) {
    problems.sort((a, b) => a.line - b.line || a.column - b.column);
    throw new ConfigError('INVALID_CONFIG', problems);
  }
  return config;
}

/** The minimal config, as the README gives it. */
export const minimalExample = [
  'domain: example.org',
  'hostname: mx.example.org',
  'tls: { cert: /etc/homing/cert.pem, key: /etc/homing/key.pem }',
  'users: /etc/homing/users',
].join('\n');

type At = (path: readonly PropertyKey[], message: string, key?: boolean) => void;

/** Parses each top-level key with its schema: the values that parsed, and whether all did. */
function parseKeys(
  input: Record<string, unknown>,
  report: (issue: z.core.$ZodIssue) => void,
): { parsed: Partial<ParsedYaml>; complete: boolean } {
  const shape = configSchema.shape as Record<string, z.ZodType>;
  const parsed: Record<string, unknown> = {};
  let complete = true;
  for (const [key, schema] of Object.entries(shape)) {
    const result = schema.safeParse(input[key]);
    if (result.success) parsed[key] = result.data;
    else {
      complete = false;
      for (const issue of result.error.issues) report({ ...issue, path: [key, ...issue.path] });
    }
  }
  const unknown = Object.keys(input).filter((key) => !(key in shape));
  if (unknown.length > 0) {
    complete = false;
    report({ code: 'unrecognized_keys', keys: unknown, path: [], message: '', input });
  }
  return { parsed: parsed as Partial<ParsedYaml>, complete };
}

function reportIssue(issue: z.core.$ZodIssue, input: object, at: At): void {
  if (issue.code === 'unrecognized_keys') {
    const allowed = keysAt(issue.path) ?? [];
    for (const key of issue.keys) {
      const guess = didYouMean(key, allowed);
      const hint = guess !== undefined ? `did you mean ${guess}?` : `the keys here are ${allowed.join(', ')}`;
      at([...issue.path, key], `unknown key; ${hint}`, true);
    }
    return;
  }
  const value = valueAt(input, issue.path);
  if (issue.code === 'invalid_type' && (issue.expected === 'object' || issue.expected === 'record')) {
    const what = issue.path[0] === 'aliases' ? 'a map of address: target lines' : 'a map of key: value lines';
    at(issue.path, `expected ${what} here, not ${show(value)}`);
    return;
  }
  at(issue.path, issue.message);
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const segment of path) value = (value as Record<PropertyKey, unknown> | undefined)?.[segment];
  return value;
}

/** The file paths of the raw input that can be checked on disk, relative ones taken from the config's directory. */
function pathsOf(input: object, file: string): { cert?: string; key?: string; users?: string; state?: string } {
  const text = (path: PropertyKey[]) => {
    const value = valueAt(input, path);
    return typeof value === 'string' && value.trim() !== '' ? absolute(value.trim(), file) : undefined;
  };
  return { cert: text(['tls', 'cert']), key: text(['tls', 'key']), users: text(['users']), state: text(['state']) };
}

function absolute(path: string, file: string): string {
  return isAbsolute(path) ? path : resolve(dirname(file), path);
}

/** The checks across keys, then the effective Config with the defaults that depend on other keys. */
async function complete(
  parsed: Partial<ParsedYaml>,
  input: object,
  file: string,
  at: At,
  usersReadable: boolean,
): Promise<Config | undefined> {
  const failed = { count: 0 };
  const fail: At = (...args) => {
    failed.count++;
    at(...args);
  };
  let domains: string[] = [];
  const given = (key: string) => valueAt(input, [key]) !== undefined;
  if (parsed.domain !== undefined && parsed.domains !== undefined && parsed.domains.length > 0) {
    fail(['domains'], 'give either domain (one) or domains (a list), not both', true);
  } else if (parsed.domain !== undefined) {
    domains = [parsed.domain];
  } else if (parsed.domains !== undefined && parsed.domains.length > 0) {
    domains = [...new Set(parsed.domains)];
  } else if (!given('domain') && !given('domains')) {
    fail(['domain'], 'missing; add the mail domain, e.g. domain: example.org (or domains: [example.org, example.net])');
  } else if (given('domains') && parsed.domains?.length === 0) {
    fail(['domains'], 'empty; give at least one domain, e.g. domains: [example.org]');
  }
  const ours = (domain: string) => domains.includes(domain);
  const list = domains.join(', ');

  const aliases: Record<string, string[]> = {};
  for (const [written, targets] of Object.entries(parsed.aliases ?? {})) {
    let key: string | undefined;
    if (written.startsWith('@')) {
      const domain = parseDomain(written.slice(1), 'example.org');
      if (!domain.ok) fail(['aliases', written], `catch-all ${domain.message}`, true);
      else if (domains.length > 0 && !ours(domain.value)) {
        fail(['aliases', written], `the catch-all is for ${domain.value}, not one of our domains (${list})`, true);
      } else key = `@${domain.value}`;
    } else {
      const address = parseAddress(written);
      if (!address.ok) fail(['aliases', written], address.message, true);
      else if (domains.length > 0 && !ours(domainOf(address.value))) {
        fail(
          ['aliases', written],
          `${address.value} is not in our domains (${list}); an alias is an address at one of them`,
          true,
        );
      } else key = address.value;
    }
    // Targets outside our domains are forwarded (SRS and ARC, issue 14), so any address goes.
    if (key === undefined) continue;
    if (aliases[key] !== undefined)
      fail(['aliases', written], `${key} is given twice; merge its targets into one list`, true);
    aliases[key] = [...new Set(targets)];
  }

  let postmaster = parsed.postmaster;
  for (const [index, address] of (postmaster ?? []).entries()) {
    if (domains.length > 0 && !ours(domainOf(address))) {
      fail(
        postmaster!.length > 1 ? ['postmaster', index] : ['postmaster'],
        `${address} is outside our domains (${list}); give a local user`,
      );
    }
  }
  const users = parsed.users === undefined ? undefined : absolute(parsed.users, file);
  if (postmaster === undefined && users !== undefined) {
    // Default: the first user of the users file; an empty (or unreadable) file gives none.
    const first = usersReadable ? (await readUsersFile(users).catch(() => undefined))?.users[0] : undefined;
    postmaster = first === undefined ? [] : [first.address];
  }

  const state = parsed.state === undefined ? undefined : absolute(parsed.state, file);
  const listen = parsed.listen;
  let control: string | undefined;
  if (listen !== undefined && (state !== undefined || listen.control !== undefined)) {
    control = listen.control === undefined ? join(state!, 'control.sock') : absolute(listen.control, file);
    if (Buffer.byteLength(control) > maxSocketPath) {
      fail(
        listen.control === undefined ? ['state'] : ['listen', 'control'],
        `the control socket ${control} is ${Buffer.byteLength(control)} bytes long; a unix socket path has at most ${maxSocketPath}, so give a shorter listen.control`,
      );
    }
  }
  const taken = new Map<string, string>();
  for (const name of ['mx', 'submission', 'submissions', 'metrics'] as const) {
    for (const [index, address] of (listen?.[name] ?? []).entries()) {
      const text = formatListenAddress(address);
      const other = taken.get(text);
      if (address.port !== 0 && other !== undefined) {
        fail(
          listen![name].length > 1 ? ['listen', name, index] : ['listen', name],
          `${text} is also listen.${other}; give each listener its own port`,
        );
      }
      taken.set(text, name);
    }
  }
  if (parsed.reflector !== undefined && domains.length > 0 && !ours(domainOf(parsed.reflector))) {
    fail(['reflector'], `${parsed.reflector} is not in our domains (${list}); give an address at one of them`);
  }
  if (failed.count > 0 || !isComplete(parsed) || users === undefined || state === undefined) return undefined;
  if (control === undefined || postmaster === undefined) return undefined;

  const filters = parsed.filters;
  const config: Config = {
    source: file,
    domains,
    hostname: parsed.hostname,
    tls:
      parsed.tls.acme === undefined
        ? { cert: absolute(parsed.tls.cert!, file), key: absolute(parsed.tls.key!, file) }
        : acmeTls(parsed.tls.acme, state),
    users,
    state,
    listen: { ...parsed.listen, control },
    dns: parsed.dns,
    aliases,
    postmaster,
    filters: {
      timeoutMs: filters.timeout,
      rdns: { enabled: filters.rdns.enabled, action: filters.rdns.action, onDnsError: filters.rdns.on_dns_error },
      fcrdns: {
        enabled: filters.fcrdns.enabled,
        action: filters.fcrdns.action,
        onDnsError: filters.fcrdns.on_dns_error,
      },
      dnsbl: {
        // A DNSBL with no zones has nothing to ask: it is on only when zones are given.
        enabled: filters.dnsbl.enabled && filters.dnsbl.zones.length > 0,
        zones: filters.dnsbl.zones,
        action: filters.dnsbl.action,
        onDnsError: filters.dnsbl.on_dns_error,
        message: filters.dnsbl.message,
      },
      spf: {
        enabled: filters.spf.enabled,
        fail: filters.spf.fail,
        softfail: filters.spf.softfail,
        onDnsError: filters.spf.on_dns_error,
      },
      dmarc: {
        enabled: filters.dmarc.enabled,
        reject: filters.dmarc.reject,
        quarantine: filters.dmarc.quarantine,
        onDnsError: filters.dmarc.on_dns_error,
      },
    },
    limits: {
      messageSize: parsed.limits.message_size,
      recipients: parsed.limits.recipients,
      lineLength: parsed.limits.line_length,
      connections: parsed.limits.connections,
      connectionsPerIp: parsed.limits.connections_per_ip,
      idleTimeoutMs: parsed.limits.idle_timeout,
      tlsHandshakeTimeoutMs: parsed.limits.tls_handshake_timeout,
      ...(parsed.limits.send_rate === undefined ? {} : { sendRate: parsed.limits.send_rate }),
    },
    remotePort: parsed.remote_port,
    ...completeSending(parsed, domains, (path) => absolute(path, file), fail),
  };
  if (parsed.reflector !== undefined) config.reflector = parsed.reflector;
  if (parsed.quota !== undefined) config.quota = parsed.quota;
  if (parsed.queue !== undefined) config.queue = parsed.queue;
  return config;
}

/** With ACME the certificate files are the server's own, under `{state}/acme/`. */
function acmeTls(acme: NonNullable<ParsedYaml['tls']['acme']>, state: string): Config['tls'] {
  return {
    cert: join(state, 'acme', 'cert.pem'),
    key: join(state, 'acme', 'key.pem'),
    acme: {
      email: acme.email,
      directory: acme.directory,
      http: acme.http,
      https: acme.https,
      renewBeforeMs: acme.renew_before,
      mtaSts: { mode: acme.mta_sts.mode, maxAgeSeconds: acme.mta_sts.max_age / 1000 },
    },
  };
}

/** True when every key of the schema parsed (absent ones take their defaults). */
function isComplete(parsed: Partial<ParsedYaml>): parsed is ParsedYaml {
  return Object.keys(configSchema.shape).every((key) => key in parsed);
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1);
}
