import { type DnsServer, startDnsServer } from '@homing/dns/testing';
import { runHoming } from '@homing/test-peers';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dns: DnsServer;
let receiver: SMTPServer;
let port: number;
const received: { from: string; to: string[]; data: string }[] = [];

beforeAll(async () => {
  dns = await startDnsServer({
    zones: {
      'example.net': { MX: [{ priority: 10, exchange: 'mx.example.net' }] },
      'mx.example.net': { A: ['127.0.0.1'] },
      'nomail.example': { MX: [{ priority: 0, exchange: '.' }] },
    },
  });
  // A real SMTP server (nodemailer's smtp-server): busy@ gets 451, gone@ gets 550, the rest 250.
  receiver = new SMTPServer({
    logger: false,
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    onRcptTo(address, _session, callback) {
      if (address.address.startsWith('busy@')) callback(Object.assign(new Error('Try later'), { responseCode: 451 }));
      else if (address.address.startsWith('gone@'))
        callback(Object.assign(new Error('No such user'), { responseCode: 550 }));
      else callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          data: Buffer.concat(chunks).toString(),
        });
        callback(null, 'Queued as 42');
      });
    },
  });
  await new Promise<void>((done) => receiver.listen(0, '127.0.0.1', () => done()));
  port = (receiver.server.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise<void>((done) => receiver.close(() => done()));
  await dns.close();
});

const homing = (args: string[], input: string) => runHoming(args, { input });

const message = 'From: a@example.org\r\nTo: b@example.net\r\nSubject: from the CLI\r\n\r\nHello.\r\n';
const base = () => [
  'send',
  '--from',
  'a@example.org',
  '--dns',
  dns.address,
  '--mx-port',
  String(port),
  '--timeout',
  '5',
];

describe('homing send', { timeout: 30_000 }, () => {
  it('delivers a message from stdin and prints each recipient outcome', async () => {
    const run = await homing([...base(), '--to', 'b@example.net', '--to', 'c@example.net'], message);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('b@example.net: delivered (mx.example.net): 250');
    expect(run.stdout).toContain('c@example.net: delivered');
    const last = received.at(-1)!;
    expect(last.to).toEqual(['b@example.net', 'c@example.net']);
    expect(last.data).toContain('Subject: from the CLI');
  });

  it('prints exactly one JSON object with --json and exits 1 when a recipient failed', async () => {
    const run = await homing(
      [
        ...base(),
        '--json',
        '--to',
        'ok@example.net',
        '--to',
        'busy@example.net',
        '--to',
        'gone@example.net',
        '--to',
        'x@nomail.example',
      ],
      message,
    );
    expect(run.code).toBe(1);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const result = JSON.parse(lines[0]!);
    expect(Object.keys(result)).toEqual(['recipients']);
    expect(result.recipients.map((r: { address: string; status: string }) => [r.address, r.status])).toEqual([
      ['ok@example.net', 'delivered'],
      ['busy@example.net', 'deferred'],
      ['gone@example.net', 'failed'],
      ['x@nomail.example', 'failed'],
    ]);
    for (const recipient of result.recipients) expect(Object.keys(recipient)).toEqual(['address', 'status', 'reply']);
    expect(result.recipients[1].reply).toMatch(/^451/);
    expect(result.recipients[2].reply).toMatch(/^550/);
    expect(result.recipients[3].reply).toMatch(/null MX/);
  });

  it('exits 75 when recipients are only deferred', async () => {
    const run = await homing([...base(), '--to', 'busy@example.net'], message);
    expect(run.code).toBe(75);
    expect(run.stdout).toMatch(/busy@example\.net: deferred .*451/);
  });

  it('says what is wrong with a bad --mx-port, without a stack trace', async () => {
    const run = await homing([...base(), '--to', 'b@example.net', '--mx-port', 'http'], message);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/^homing: --mx-port "http" is not a port/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('rejects a recipient that is not an address', async () => {
    const run = await homing([...base(), '--to', 'not an address'], message);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/^homing: --to "not an address" is not an address/);
  });

  it('refuses an empty message', async () => {
    const run = await homing([...base(), '--to', 'b@example.net'], '');
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/^homing: the message on stdin is empty/);
  });

  it('needs --to', async () => {
    const run = await homing(['send', '--from', 'a@example.org'], message);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/--to/);
  });

  it('relays through --smarthost HOST:PORT without looking up the recipient domain', async () => {
    const run = await homing(
      [
        'send',
        '--from',
        'a@example.org',
        '--to',
        'z@nomail.example',
        '--smarthost',
        `127.0.0.1:${port}`,
        '--dns',
        dns.address,
        '--timeout',
        '5',
        '--json',
      ],
      message,
    );
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).recipients[0]).toMatchObject({ address: 'z@nomail.example', status: 'delivered' });
    expect(received.at(-1)!.to).toEqual(['z@nomail.example']);
  });

  it('relays through --smarthost localhost:PORT, a name the system resolves without DNS (RFC 6761 6.3)', async () => {
    const run = await homing(
      [
        'send',
        '--from',
        'a@example.org',
        '--to',
        'y@nomail.example',
        '--smarthost',
        `localhost:${port}`,
        '--dns',
        dns.address,
        '--timeout',
        '5',
        '--json',
      ],
      message,
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).recipients[0]).toMatchObject({ address: 'y@nomail.example', status: 'delivered' });
    expect(received.at(-1)!.to).toEqual(['y@nomail.example']);
  });

  it('asks for the smarthost password in HOMING_SMARTHOST_PASSWORD', async () => {
    const run = await homing(
      [...base(), '--to', 'b@example.net', '--smarthost', 'relay.example.net', '--smarthost-user', 'me'],
      message,
    );
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/^homing: --smarthost-user needs the password in HOMING_SMARTHOST_PASSWORD/);
  });
});
