// The shape of homing.yml, checked with zod: which keys exist at each level (an unknown key is an
// error, so a typo never silently falls back to a default), which are required, and each leaf's
// parser with its default. Checks that need other keys or the disk (domains, files) come after,
// in load-config.ts.
import { z } from 'zod';
import type { DnsErrorAction, FilterAction, ListenAddress, QueueConfig } from './config-types';
import {
  type Parsed,
  parseAddress,
  parseDays,
  parseDomain,
  parseDuration,
  parseHost,
  parseInteger,
  parseListenAddress,
  parseRate,
  parseResolver,
  parseSelector,
  parseSize,
  parseSourceAddress,
  show,
} from './config-values';
import { parseQueue } from './queue-config';

/** The defaults of every optional key, as the README lists them. */
export const defaults = {
  state: '/var/lib/homing',
  listen: { mx: '[::]:25', submission: '[::]:587', submissions: '[::]:465', metrics: '127.0.0.1:9325' },
  remotePort: 25,
  limits: {
    messageSize: '25M',
    recipients: 100,
    lineLength: '64K',
    connections: 1000,
    connectionsPerIp: 20,
    idleTimeout: '5m',
    tlsHandshakeTimeout: '30s',
  },
  filters: { timeout: '5s' },
  acme: {
    directory: 'https://acme-v02.api.letsencrypt.org/directory',
    http: '[::]:80',
    https: '[::]:443',
    renewBefore: '30d',
  },
  mtaSts: { mode: 'testing', maxAge: '7d' },
} as const;

/** A leaf: `parse` gets the YAML value (undefined when the key is absent) and gives the value or a message. */
function leaf<T>(parse: (input: unknown) => Parsed<T>) {
  return z
    .unknown()
    .optional()
    .transform((input, ctx) => {
      const result = parse(input);
      if (result.ok) return result.value;
      for (const failure of [result, ...(result.others ?? [])]) {
        ctx.issues.push({ code: 'custom', message: failure.message, input, path: failure.path ?? [] });
      }
      return z.NEVER;
    });
}

/** A leaf with a default for when the key is absent (or given empty, `key:` with nothing after). */
function optional<T>(fallback: T | (() => T), parse: (input: unknown) => Parsed<T>) {
  return leaf((input) =>
    input === undefined || input === null
      ? { ok: true, value: typeof fallback === 'function' ? (fallback as () => T)() : fallback }
      : parse(input),
  );
}

/** A required leaf: absent, it says what to add. */
function required<T>(missing: string, parse: (input: unknown) => Parsed<T>) {
  return leaf((input) => (input === undefined || input === null ? { ok: false, message: missing } : parse(input)));
}

/** A section (a map of keys): absent or empty means every key takes its default. */
function section<T extends z.core.$ZodLooseShape>(shape: T) {
  return z.preprocess((input) => input ?? {}, z.strictObject(shape));
}

/** One value or a list of them, each through `parse`; the list's messages name the item. */
function oneOrMany<T>(input: unknown, parse: (item: unknown) => Parsed<T>): Parsed<T[]> {
  if (!Array.isArray(input)) {
    const parsed = parse(input);
    return parsed.ok ? { ok: true, value: [parsed.value] } : parsed;
  }
  const values: T[] = [];
  const failures: { message: string; path: number[] }[] = [];
  for (const [index, item] of input.entries()) {
    const parsed = parse(item);
    // The item's index goes into the key path, so the position is the item's own.
    if (parsed.ok) values.push(parsed.value);
    else failures.push({ message: parsed.message, path: [index] });
  }
  const [first, ...others] = failures;
  return first === undefined ? { ok: true, value: values } : { ok: false, ...first, others };
}

const path =
  (example: string) =>
  (input: unknown): Parsed<string> =>
    typeof input === 'string' && input.trim() !== ''
      ? { ok: true, value: input.trim() }
      : { ok: false, message: `${show(input)} is not a path; give one, e.g. ${example}` };

/** A listener: HOST:PORT, a list of them, or `false`/`off`/`[]` to turn it off. */
const listener = (fallback: string) =>
  optional<ListenAddress[]>(
    () => [(parseListenAddress(fallback, fallback) as { value: ListenAddress }).value],
    (input) =>
      input === false || input === 'off'
        ? { ok: true, value: [] }
        : oneOrMany(input, (item) => parseListenAddress(item, fallback)),
  );

const optionalPath = (example: string) =>
  leaf<string | undefined>((input) => (input == null ? { ok: true, value: undefined } : path(example)(input)));

const acmeSection = z.strictObject({
  email: required(
    'missing; give the address the CA writes to about this certificate, e.g. email: you@example.org',
    (input) => parseAddress(input, 'you@example.org'),
  ),
  directory: optional<string>(defaults.acme.directory, (input) => {
    const url = typeof input === 'string' && URL.canParse(input) ? new URL(input) : undefined;
    return url?.protocol === 'https:'
      ? { ok: true, value: url.href }
      : {
          ok: false,
          message: `${show(input)} is not an https:// URL of an ACME directory; e.g. ${defaults.acme.directory}`,
        };
  }),
  http: listener(defaults.acme.http),
  https: listener(defaults.acme.https),
  renew_before: optional(30 * 86_400_000, (input) => parseDays(input, defaults.acme.renewBefore)),
  // RFC 8461 3.2: the policy served at https://mta-sts.DOMAIN/.well-known/mta-sts.txt.
  mta_sts: section({
    mode: choice(['enforce', 'testing', 'none'] as const, defaults.mtaSts.mode),
    max_age: optional(7 * 86_400_000, (input) => parseDays(input, defaults.mtaSts.maxAge)),
  }),
});

const actions: FilterAction[] = ['accept', 'junk', 'reject', 'tempfail'];
const dnsErrorActions: DnsErrorAction[] = ['tempfail', 'accept'];

function choice<T extends string>(allowed: readonly T[], fallback: T) {
  return optional<T>(fallback, (input) =>
    typeof input === 'string' && (allowed as readonly string[]).includes(input.toLowerCase())
      ? { ok: true, value: input.toLowerCase() as T }
      : { ok: false, message: `${show(input)} is not one of ${allowed.join(', ')}; e.g. ${fallback}` },
  );
}

const enabled = optional(true, (input) =>
  typeof input === 'boolean'
    ? { ok: true, value: input }
    : { ok: false, message: `${show(input)}: write true or false` },
);

/** A filter: a map of its keys (each with a default), or `false`/`off` to turn it off, `true`/`on` for defaults. */
function filter<T extends z.core.$ZodLooseShape>(shape: T) {
  return z.preprocess(
    (input) =>
      input === false || input === 'off'
        ? { enabled: false }
        : input === true || input === 'on' || input == null
          ? {}
          : input,
    z.strictObject({ enabled, ...shape }),
  );
}

const domainList = leaf<string[]>((input) =>
  input === undefined ? { ok: true, value: [] } : oneOrMany(input, (item) => parseDomain(item, 'example.org')),
);

/** Alias targets: one address or a list of them. */
const targets = leaf<string[]>((input) => {
  const parsed = oneOrMany(input, (item) => parseAddress(item, 'alice@example.org'));
  if (parsed.ok && parsed.value.length === 0) return { ok: false, message: 'no target; give at least one address' };
  return parsed;
});

/** A DKIM key of one domain: `{ selector, key }`, both optional (a key is generated when absent). */
const dkimKeyShape = {
  selector: leaf<string | undefined>((input) =>
    input == null ? { ok: true, value: undefined } : parseSelector(input),
  ),
  key: leaf<string | undefined>((input) =>
    input == null ? { ok: true, value: undefined } : path('/etc/homing/dkim.key')(input),
  ),
};
/** `ed25519: true` (a generated key), `false`, or `{ selector, key }`: an extra Ed25519 signature. */
const ed25519Option = z.preprocess(
  (input) =>
    input === false || input === 'off' || input == null ? undefined : input === true || input === 'on' ? {} : input,
  z.strictObject(dkimKeyShape).optional(),
);
const dkimEntry = z.preprocess((input) => input ?? {}, z.strictObject({ ...dkimKeyShape, ed25519: ed25519Option }));

/** The YAML schema; its output is camelCase and has every default filled in except those that depend on other keys. */
export const configSchema = z.strictObject({
  domain: leaf<string | undefined>((input) =>
    input === undefined ? { ok: true, value: undefined } : parseDomain(input, 'example.org'),
  ),
  domains: domainList,
  hostname: required('missing; add the name of this host, e.g. hostname: mx.example.org', (input) =>
    parseDomain(input, 'mx.example.org'),
  ),
  tls: z.preprocess(
    (input) => input ?? {},
    z
      .strictObject({
        cert: optionalPath('/etc/homing/cert.pem'),
        key: optionalPath('/etc/homing/key.pem'),
        // RFC 8555: a certificate obtained and renewed by the server itself, instead of cert and key.
        acme: z.preprocess((input) => (input === true || input === null ? {} : input), acmeSection.optional()),
      })
      .superRefine((tls, ctx) => {
        if (tls.acme !== undefined) {
          if (tls.cert !== undefined || tls.key !== undefined) {
            ctx.addIssue({
              code: 'custom',
              path: ['acme'],
              message: 'give either cert and key (your own certificate) or acme (one obtained for you), not both',
            });
          }
          return;
        }
        if (tls.cert === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['cert'],
            message: 'missing; give the path of a PEM certificate, e.g. cert: /etc/homing/cert.pem',
          });
        }
        if (tls.key === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['key'],
            message: 'missing; give the path of its PEM private key, e.g. key: /etc/homing/key.pem',
          });
        }
      }),
  ),
  users: required(
    'missing; give the path of the users file, e.g. users: /etc/homing/users (create it with homing user add)',
    path('/etc/homing/users'),
  ),
  state: optional(defaults.state, path(defaults.state)),
  listen: section({
    mx: listener(defaults.listen.mx),
    submission: listener(defaults.listen.submission),
    submissions: listener(defaults.listen.submissions),
    metrics: listener(defaults.listen.metrics),
    control: leaf<string | undefined>((input) =>
      input == null ? { ok: true, value: undefined } : path('/var/lib/homing/control.sock')(input),
    ),
  }),
  dns: optional<string[]>([], (input) => oneOrMany(input, parseResolver)),
  aliases: z.preprocess((input) => input ?? {}, z.record(z.string(), targets)),
  postmaster: leaf<string[] | undefined>((input) =>
    input == null
      ? { ok: true, value: undefined }
      : oneOrMany(input, (item) => parseAddress(item, 'alice@example.org')),
  ),
  quota: leaf<number | undefined>((input) =>
    input == null || input === false || input === 'none' ? { ok: true, value: undefined } : parseSize(input, '1G'),
  ),
  reflector: leaf<string | undefined>((input) =>
    input == null ? { ok: true, value: undefined } : parseAddress(input, 'check@example.org'),
  ),
  // The queue: the file spool under `state` (default), or a PostgreSQL queue several hosts share.
  queue: leaf<QueueConfig | undefined>(parseQueue),
  remote_port: optional(defaults.remotePort, (input) => parseInteger(input, 1, 65535, String(defaults.remotePort))),
  // Sending (issue 14): DKIM keys (defaults, then per domain), a smarthost, source addresses.
  dkim: section({
    ...dkimKeyShape,
    ed25519: ed25519Option,
    domains: z.preprocess((input) => input ?? {}, z.record(z.string(), dkimEntry)),
  }),
  relay: z.preprocess(
    (input) => (input === false || input === 'off' ? undefined : input),
    z
      .strictObject({
        host: required('missing; give the smarthost, e.g. host: smtp.example.net', (input) =>
          parseHost(input, 'smtp.example.net'),
        ),
        port: optional(587, (input) => parseInteger(input, 1, 65535, '587')),
        username: leaf<string | undefined>((input) =>
          input == null
            ? { ok: true, value: undefined }
            : typeof input === 'string' && input.trim() !== '' && !/[\r\n]/.test(input)
              ? { ok: true, value: input.trim() }
              : { ok: false, message: `${show(input)} is not a user name; e.g. username: alice@example.org` },
        ),
        password_file: leaf<string | undefined>((input) =>
          input == null ? { ok: true, value: undefined } : path('/etc/homing/relay-password')(input),
        ),
      })
      .optional(),
  ),
  outbound: section({
    ipv4: leaf<string | undefined>((input) =>
      input == null ? { ok: true, value: undefined } : parseSourceAddress(input, 4),
    ),
    ipv6: leaf<string | false | undefined>((input) =>
      input == null
        ? { ok: true, value: undefined }
        : input === false || input === 'off'
          ? { ok: true, value: false }
          : parseSourceAddress(input, 6),
    ),
  }),
  limits: section({
    message_size: optional(26_214_400, (input) => parseSize(input, defaults.limits.messageSize)),
    recipients: optional(defaults.limits.recipients, (input) => parseInteger(input, 1, 100_000, '100')),
    // RFC 5321 4.5.3.1.6: a text line is at most 1000 octets; below that we would refuse good mail.
    line_length: optional(65_536, (input) => {
      const parsed = parseSize(input, defaults.limits.lineLength);
      return parsed.ok && parsed.value < 1000
        ? { ok: false, message: `${show(input)} is under RFC 5321's 1000 octets; e.g. ${defaults.limits.lineLength}` }
        : parsed;
    }),
    connections: optional(defaults.limits.connections, (input) => parseInteger(input, 1, 1_000_000, '1000')),
    connections_per_ip: optional(defaults.limits.connectionsPerIp, (input) => parseInteger(input, 1, 1_000_000, '20')),
    idle_timeout: optional(300_000, (input) => parseDuration(input, defaults.limits.idleTimeout)),
    // Postfix's smtpd_starttls_timeout; here one deadline for the whole handshake (apps/mta/README.md).
    tls_handshake_timeout: optional(30_000, (input) => parseDuration(input, defaults.limits.tlsHandshakeTimeout)),
    send_rate: optional(undefined, (input) => parseRate(input, '100/h')),
  }),
  filters: section({
    timeout: optional(5000, (input) => parseDuration(input, defaults.filters.timeout)),
    rdns: filter({ action: choice(actions, 'junk'), on_dns_error: choice(dnsErrorActions, 'tempfail') }),
    fcrdns: filter({ action: choice(actions, 'junk'), on_dns_error: choice(dnsErrorActions, 'tempfail') }),
    dnsbl: filter({
      zones: optional<string[]>([], (input) => oneOrMany(input, (item) => parseDomain(item, 'zen.spamhaus.org'))),
      action: choice(actions, 'reject'),
      on_dns_error: choice(dnsErrorActions, 'accept'),
      message: optional('Service unavailable; client [{ip}] blocked using {zone}', (input) =>
        typeof input === 'string' && input.trim() !== '' && !/[\r\n]/.test(input)
          ? { ok: true, value: input.trim() }
          : { ok: false, message: `${show(input)} is not a one-line reply text` },
      ),
    }),
    spf: filter({
      fail: choice(actions, 'reject'),
      softfail: choice(actions, 'junk'),
      on_dns_error: choice(dnsErrorActions, 'accept'),
    }),
    dmarc: filter({
      reject: choice(actions, 'reject'),
      quarantine: choice(actions, 'junk'),
      on_dns_error: choice(dnsErrorActions, 'accept'),
    }),
  }),
});

/** What the schema gives: the YAML's values, parsed, with the simple defaults filled in. */
export type ParsedYaml = z.output<typeof configSchema>;

/** The keys allowed at a path of the YAML (for did-you-mean), or undefined where any key goes (aliases). */
export function keysAt(path: readonly PropertyKey[]): string[] | undefined {
  let schema: z.core.$ZodType = configSchema;
  for (const segment of path) {
    const shape = shapeOf(schema);
    if (shape === undefined) return undefined;
    const next = shape[String(segment)];
    if (next === undefined) return undefined;
    schema = next;
  }
  const shape = shapeOf(schema);
  return shape === undefined ? undefined : Object.keys(shape);
}

function shapeOf(schema: z.core.$ZodType): Record<string, z.core.$ZodType> | undefined {
  const def = schema._zod.def as {
    type: string;
    shape?: Record<string, z.core.$ZodType>;
    out?: z.core.$ZodType;
    in?: z.core.$ZodType;
    innerType?: z.core.$ZodType;
  };
  if (def.type === 'object') return def.shape;
  if (def.type === 'optional') return shapeOf(def.innerType!);
  if (def.type === 'pipe') return shapeOf(def.out!) ?? shapeOf(def.in!);
  return undefined;
}
