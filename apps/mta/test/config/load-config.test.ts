import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConfigError, isConfigError } from '../../src/config/config-error';
import { loadConfig, minimalExample, parseConfig } from '../../src/config/load-config';
import { type ConfigFixtures, makeFixtures } from './config-fixtures';

let fx: ConfigFixtures;
beforeAll(async () => {
  fx = await makeFixtures();
});
afterAll(() => fx.remove());

/** The minimal config of the README, with its paths pointing at the fixtures. */
const minimal = () =>
  minimalExample
    .replace('/etc/homing/cert.pem', fx.cert)
    .replace('/etc/homing/key.pem', fx.key)
    .replace('/etc/homing/users', fx.users);

/** The config lines after the three required ones (domain is given by the test). */
const base = () => [`hostname: mx.example.org`, `tls: { cert: ${fx.cert}, key: ${fx.key} }`, `users: ${fx.users}`];

async function problems(text: string): Promise<string[]> {
  const error = await parseConfig(text, 'homing.yml').then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isConfigError(error)).toBe(true);
  return (error as ConfigError).message.split('\n');
}

describe('the minimal config', () => {
  it('is the README text, at most 280 characters', () => {
    expect(minimalExample).toBe(
      'domain: example.org\nhostname: mx.example.org\ntls: { cert: /etc/homing/cert.pem, key: /etc/homing/key.pem }\nusers: /etc/homing/users',
    );
    expect(minimalExample.length).toBeLessThanOrEqual(280);
  });

  it('loads from a file exactly as written and fills in every default', async () => {
    const file = await fx.write(`${minimal()}\n`);
    const config = await loadConfig(file);
    expect(config).toEqual({
      source: file,
      domains: ['example.org'],
      hostname: 'mx.example.org',
      tls: { cert: fx.cert, key: fx.key },
      users: fx.users,
      state: '/var/lib/homing',
      listen: {
        mx: [{ host: '::', port: 25 }],
        submission: [{ host: '::', port: 587 }],
        submissions: [{ host: '::', port: 465 }],
        metrics: [{ host: '127.0.0.1', port: 9325 }],
        control: '/var/lib/homing/control.sock',
      },
      dns: [],
      aliases: {},
      postmaster: ['alice@example.org'],
      filters: {
        timeoutMs: 5000,
        rdns: { enabled: true, action: 'junk', onDnsError: 'tempfail' },
        fcrdns: { enabled: true, action: 'junk', onDnsError: 'tempfail' },
        dnsbl: {
          enabled: false,
          zones: [],
          action: 'reject',
          onDnsError: 'accept',
          message: 'Service unavailable; client [{ip}] blocked using {zone}',
        },
        spf: { enabled: true, fail: 'reject', softfail: 'junk', onDnsError: 'accept' },
        dmarc: { enabled: true, reject: 'reject', quarantine: 'junk', onDnsError: 'accept' },
      },
      limits: {
        messageSize: 25 * 1024 * 1024,
        recipients: 100,
        lineLength: 64 * 1024,
        connections: 1000,
        connectionsPerIp: 20,
        idleTimeoutMs: 300_000,
        tlsHandshakeTimeoutMs: 30_000,
      },
      remotePort: 25,
      dkim: { 'example.org': { selector: 'homing' } },
      outbound: {},
    });
    expect(config.quota).toBeUndefined();
  });

  it('stays valid with an empty users file, with no postmaster', async () => {
    const config = await parseConfig(minimal().replace(fx.users, fx.emptyUsers), 'homing.yml');
    expect(config.postmaster).toEqual([]);
  });
});

describe('every key', () => {
  it('takes the values it documents', async () => {
    const text = [
      'domains: [Example.ORG., bücher.example]',
      ...base(),
      'state: state',
      'listen:',
      '  mx: ["[::1]:2525", 127.0.0.1:2525]',
      '  submission: false',
      '  submissions: []',
      '  metrics: localhost:0',
      '  control: /tmp/homing.sock',
      'dns: [127.0.0.1, "[::1]:5353", 10.0.0.1:53]',
      'aliases:',
      '  Info@example.org: alice@example.org',
      '  "@xn--bcher-kva.example": [alice@example.org, Bob@Example.org]',
      'postmaster: [bob@example.org]',
      'quota: 1G',
      'remote_port: 2525',
      'limits: { message_size: 10m, recipients: 5, line_length: 2K, connections: 7, connections_per_ip: 2, idle_timeout: 300ms, tls_handshake_timeout: 2s }',
      'filters:',
      '  timeout: 1.5s',
      '  rdns: off',
      '  fcrdns: { action: reject }',
      '  dnsbl: { zones: [zen.example.net], message: "go away {ip}" }',
      '  spf: { softfail: accept, on_dns_error: tempfail }',
      '  dmarc: false',
    ].join('\n');
    const config = await parseConfig(text, join(fx.dir, 'homing.yml'));
    expect(config.domains).toEqual(['example.org', 'xn--bcher-kva.example']);
    expect(config.state).toBe(join(fx.dir, 'state'));
    expect(config.listen).toEqual({
      mx: [
        { host: '::1', port: 2525 },
        { host: '127.0.0.1', port: 2525 },
      ],
      submission: [],
      submissions: [],
      metrics: [{ host: 'localhost', port: 0 }],
      control: '/tmp/homing.sock',
    });
    expect(config.dns).toEqual(['127.0.0.1:53', '[::1]:5353', '10.0.0.1:53']);
    expect(config.aliases).toEqual({
      'info@example.org': ['alice@example.org'],
      '@xn--bcher-kva.example': ['alice@example.org', 'bob@example.org'],
    });
    expect(config.postmaster).toEqual(['bob@example.org']);
    expect(config.quota).toBe(1024 ** 3);
    expect(config.remotePort).toBe(2525);
    expect(config.limits).toEqual({
      messageSize: 10 * 1024 * 1024,
      recipients: 5,
      lineLength: 2048,
      connections: 7,
      connectionsPerIp: 2,
      idleTimeoutMs: 300,
      tlsHandshakeTimeoutMs: 2000,
    });
    expect(config.filters).toEqual({
      timeoutMs: 1500,
      rdns: { enabled: false, action: 'junk', onDnsError: 'tempfail' },
      fcrdns: { enabled: true, action: 'reject', onDnsError: 'tempfail' },
      dnsbl: {
        enabled: true,
        zones: ['zen.example.net'],
        action: 'reject',
        onDnsError: 'accept',
        message: 'go away {ip}',
      },
      spf: { enabled: true, fail: 'reject', softfail: 'accept', onDnsError: 'tempfail' },
      dmarc: { enabled: false, reject: 'reject', quarantine: 'junk', onDnsError: 'accept' },
    });
  });

  it('puts the control socket in the state directory by default', async () => {
    const config = await parseConfig(['domain: example.org', ...base(), 'state: /srv/homing'].join('\n'), 'x.yml');
    expect(config.listen.control).toBe('/srv/homing/control.sock');
  });

  it('takes relative paths from the directory of the config file', async () => {
    const text = [
      'domain: example.org',
      'hostname: mx.example.org',
      'tls: { cert: cert.pem, key: key.pem }',
      'users: users',
    ];
    const config = await loadConfig(await fx.write(text.join('\n'), 'relative.yml'));
    expect(config.tls).toEqual({ cert: fx.cert, key: fx.key });
    expect(config.users).toBe(fx.users);
  });
});

describe('problems', () => {
  it('names an unknown key at its line and column with a did-you-mean', async () => {
    const lines = await problems(['domain: example.org', 'hostnme: mx.example.org', ...base().slice(1)].join('\n'));
    expect(lines).toEqual([
      'homing.yml:1:1: hostname: missing; add the name of this host, e.g. hostname: mx.example.org',
      'homing.yml:2:1: hostnme: unknown key; did you mean hostname?',
    ]);
  });

  it('suggests keys inside sections and lists the keys when nothing is close', async () => {
    const text = [
      'domain: example.org',
      ...base(),
      'limits:',
      '  mesage_size: 1M',
      'filters:',
      '  spf: { fial: junk }',
      'zzz: 1',
    ];
    expect(await problems(text.join('\n'))).toEqual([
      'homing.yml:6:3: limits.mesage_size: unknown key; did you mean message_size?',
      'homing.yml:8:10: filters.spf.fial: unknown key; did you mean fail?',
      expect.stringMatching(
        /^homing\.yml:9:1: zzz: unknown key; the keys here are domain, domains, hostname, tls, users, state, listen,/,
      ),
    ]);
  });

  it('reports every bad value, one per line, each with what to write instead', async () => {
    const text = [
      'domain: example.org',
      ...base(),
      'listen: { mx: "::1:25", metrics: 127.0.0.1:99999 }',
      'dns: [ns.example.org, 127.0.0.1:53, "[::1]:99999"]',
      'quota: lots',
      'remote_port: 0',
      'limits: { idle_timeout: 5, line_length: 500, recipients: many }',
      'filters: { rdns: { action: drop }, dmarc: { on_dns_error: junk }, timeout: 0s }',
    ];
    expect(await problems(text.join('\n'))).toEqual([
      'homing.yml:5:15: listen.mx: "::1:25" is not HOST:PORT; write e.g. "[::]:25"; put an IPv6 address in brackets: "[::1:25]:PORT"',
      'homing.yml:5:34: listen.metrics: "127.0.0.1:99999": port 99999 is over 65535; e.g. "127.0.0.1:9325"',
      'homing.yml:6:7: dns[0]: "ns.example.org": a resolver is given by IP address, not by name; e.g. "127.0.0.1:53"',
      'homing.yml:6:37: dns[2]: "[::1]:99999": port 99999 is over 65535; e.g. "127.0.0.1:53"',
      'homing.yml:7:8: quota: "lots" is not a size; write a number with K, M or G, e.g. 1G',
      'homing.yml:8:14: remote_port: 0 is not a whole number from 1 to 65535; e.g. 25',
      'homing.yml:9:25: limits.idle_timeout: 5 is not a duration; write a number with ms, s, m or h, e.g. 5m',
      "homing.yml:9:41: limits.line_length: 500 is under RFC 5321's 1000 octets; e.g. 64K",
      'homing.yml:9:58: limits.recipients: "many" is not a whole number from 1 to 100000; e.g. 100',
      'homing.yml:10:28: filters.rdns.action: "drop" is not one of accept, junk, reject, tempfail; e.g. junk',
      'homing.yml:10:59: filters.dmarc.on_dns_error: "junk" is not one of tempfail, accept; e.g. accept',
      'homing.yml:10:76: filters.timeout: "0s" must be more than zero, e.g. 5s',
    ]);
  });

  it('wants a map where a section goes', async () => {
    const text = [
      'domain: example.org',
      ...base(),
      'limits: 5',
      'aliases: [a@example.org]',
      'filters: { spf: 5, dnsbl: { zones: bl.example.net, message: "" } }',
    ];
    expect(await problems(text.join('\n'))).toEqual([
      'homing.yml:5:9: limits: expected a map of key: value lines here, not 5',
      'homing.yml:6:10: aliases: expected a map of address: target lines here, not ["a@example.org"]',
      'homing.yml:7:17: filters.spf: expected a map of key: value lines here, not 5',
      'homing.yml:7:61: filters.dnsbl.message: "" is not a one-line reply text',
    ]);
  });

  it('says what is missing and where', async () => {
    expect(await problems('domain: example.org\ntls: {}\n')).toEqual([
      'homing.yml:1:1: hostname: missing; add the name of this host, e.g. hostname: mx.example.org',
      'homing.yml:1:1: users: missing; give the path of the users file, e.g. users: /etc/homing/users (create it with homing user add)',
      'homing.yml:2:6: tls.cert: missing; give the path of a PEM certificate, e.g. cert: /etc/homing/cert.pem',
      'homing.yml:2:6: tls.key: missing; give the path of its PEM private key, e.g. key: /etc/homing/key.pem',
    ]);
  });

  it('wants exactly one of domain and domains, each a real domain name', async () => {
    expect(await problems(base().join('\n'))).toEqual([
      'homing.yml:1:1: domain: missing; add the mail domain, e.g. domain: example.org (or domains: [example.org, example.net])',
    ]);
    expect(await problems(['domain: example.org', 'domains: [example.net]', ...base()].join('\n'))).toEqual([
      'homing.yml:2:1: domains: give either domain (one) or domains (a list), not both',
    ]);
    expect(await problems(['domains: []', ...base()].join('\n'))).toEqual([
      'homing.yml:1:10: domains: empty; give at least one domain, e.g. domains: [example.org]',
    ]);
    expect(await problems(['domain: localhost', ...base()].join('\n'))).toEqual([
      'homing.yml:1:9: domain: "localhost" is not a fully qualified domain name (it needs a dot); e.g. example.org',
    ]);
    expect(await problems(['domains: [example.org, -bad.example]', ...base()].join('\n'))).toEqual([
      'homing.yml:1:24: domains[1]: "-bad.example" is not a valid domain name (labels are letters, digits and inner hyphens); e.g. example.org',
    ]);
  });

  it('keeps aliases and postmaster inside our domains; alias targets elsewhere are forwarded', async () => {
    const text = [
      'domain: example.org',
      ...base(),
      'aliases:',
      '  info@example.net: alice@example.org',
      '  "@example.com": alice@example.org',
      '  sales@example.org: [alice@example.org, carol@gmail.test]',
      '  "bad address": alice@example.org',
      'postmaster: root@example.net',
    ];
    expect(await problems(text.join('\n'))).toEqual([
      'homing.yml:6:3: aliases.info@example.net: info@example.net is not in our domains (example.org); an alias is an address at one of them',
      'homing.yml:7:3: aliases.@example.com: the catch-all is for example.com, not one of our domains (example.org)',
      'homing.yml:9:3: aliases.bad address: "bad address" is not a mail address (local@domain); e.g. alice@example.org',
      'homing.yml:10:13: postmaster: root@example.net is outside our domains (example.org); give a local user',
    ]);
  });

  it('still checks aliases against the domains when another key is wrong', async () => {
    const text = [
      'domain: example.org',
      'hostname: 42',
      `tls: { cert: ${fx.cert}, key: ${fx.key} }`,
      `users: ${fx.users}`,
    ];
    text.push('aliases: { info@example.net: bob@example.org }');
    expect(await problems(text.join('\n'))).toEqual([
      'homing.yml:2:11: hostname: 42 is not a domain; e.g. mx.example.org',
      'homing.yml:5:12: aliases.info@example.net: info@example.net is not in our domains (example.org); an alias is an address at one of them',
    ]);
  });

  it('checks that the certificate and key files exist, are PEM and match', async () => {
    const tls = (cert: string, key: string) =>
      problems(
        [
          'domain: example.org',
          'hostname: mx.example.org',
          `tls: { cert: ${cert}, key: ${key} }`,
          `users: ${fx.users}`,
        ].join('\n'),
      );
    const column = 'homing.yml:3:14: tls.cert';
    expect(await tls('/nonexistent/mx.pem', fx.key)).toEqual([
      `${column}: file /nonexistent/mx.pem does not exist; give the path of a PEM certificate`,
    ]);
    expect(await tls(fx.key, fx.cert)).toEqual([
      `${column}: file ${fx.key} holds a private key, not a certificate; did you swap tls.cert and tls.key?`,
      expect.stringMatching(
        /tls\.key: file .* holds a certificate, not a private key; did you swap tls\.cert and tls\.key\?$/,
      ),
    ]);
    expect(await tls(fx.users, fx.encryptedKey)).toEqual([
      `${column}: file ${fx.users} is not PEM (no -----BEGIN line); give a PEM certificate (openssl x509 -inform der -in FILE converts DER)`,
      expect.stringMatching(/tls\.key: the private key in .* is protected by a passphrase; give it unencrypted/),
    ]);
    expect(await tls(fx.cert, fx.otherKey)).toEqual([
      expect.stringMatching(
        /^homing\.yml:3:\d+: tls\.key: the key in .*other-key\.pem does not match the certificate in .*cert\.pem; give the key the certificate was made for$/,
      ),
    ]);
    expect(await tls(fx.dir, fx.key)).toEqual([
      `${column}: ${fx.dir} is a directory; give the path of a PEM certificate file`,
    ]);
  });

  it('says when a PEM block is damaged, in plain words', async () => {
    const cert = await fx.write(
      '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n',
      'bad-cert.pem',
    );
    const key = await fx.write('-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n', 'bad-key.pem');
    const lines = await problems(
      [
        'domain: example.org',
        'hostname: mx.example.org',
        `tls: { cert: ${cert}, key: ${key} }`,
        `users: ${fx.users}`,
      ].join('\n'),
    );
    expect(lines).toEqual([
      `homing.yml:3:14: tls.cert: file ${cert} does not hold a valid certificate (its CERTIFICATE block cannot be decoded); give a PEM certificate`,
      expect.stringMatching(
        /tls\.key: file .*bad-key\.pem does not hold a valid private key \(its PEM block cannot be decoded\)/,
      ),
    ]);
    expect(lines.join('\n')).not.toMatch(/error:|asn1|DECODER/i);
  });

  it('wants the users file to exist, and a state path that is a directory', async () => {
    const text = [
      'domain: example.org',
      'hostname: mx.example.org',
      `tls: { cert: ${fx.cert}, key: ${fx.key} }`,
      'users: /nonexistent/users',
      `state: ${fx.users}`,
    ];
    expect(await problems(text.join('\n'))).toEqual([
      'homing.yml:4:8: users: file /nonexistent/users does not exist; give the path of the users file (create it with homing user add ADDRESS --users FILE)',
      `homing.yml:5:8: state: ${fx.users} exists and is not a directory; give a directory`,
    ]);
  });

  it('reports YAML syntax errors with their position, and the IPv6 quoting trap', async () => {
    expect(await problems('domain: example.org\nlisten:\n  mx: [::]:25\n')).toEqual([
      'homing.yml:3:11: YAML syntax error: Unexpected scalar at node end; quote an IPv6 address with its port, e.g. mx: "[::]:25"',
    ]);
    expect(await problems('domain: a.example\ndomain: b.example\n')).toEqual([
      'homing.yml:2:1: YAML syntax error: Map keys must be unique',
    ]);
  });

  it('wants a map at the top, and says what goes in it', async () => {
    const [first] = await problems('- domain: example.org\n');
    expect(first).toBe('homing.yml:1:1: the config must be a map of keys (key: value lines), such as:');
    expect(await problems('')).toContain('domain: example.org');
  });

  it('says when the file is not there, with its own code', async () => {
    const error = await loadConfig(join(fx.dir, 'nope.yml')).catch((e: unknown) => e);
    expect(isConfigError(error, 'FILE_NOT_FOUND')).toBe(true);
    expect((error as Error).message).toBe(
      `${join(fx.dir, 'nope.yml')}: config file does not exist; write one (see "Configuration" in the README) or pass --config FILE`,
    );
  });

  it('refuses a control socket path longer than a unix socket allows', async () => {
    const long = `/tmp/${'x'.repeat(110)}`;
    const lines = await problems(['domain: example.org', ...base(), `state: ${long}`].join('\n'));
    expect(lines).toEqual([
      expect.stringMatching(
        /^homing\.yml:5:8: state: the control socket .* is 128 bytes long; a unix socket path has at most 107/,
      ),
    ]);
  });

  it('refuses two listeners on one address', async () => {
    const lines = await problems(['domain: example.org', ...base(), 'listen: { mx: "[::]:587" }'].join('\n'));
    expect(lines).toEqual([
      'homing.yml:5:9: listen.submission: [::]:587 is also listen.mx; give each listener its own port',
    ]);
  });
});
