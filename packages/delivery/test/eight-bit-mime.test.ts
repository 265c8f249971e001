import { Readable } from 'node:stream';
import { createResolver } from '@homing/dns';
import { rawServer } from '@homing/test-peers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createDeliveryAgent, type DeliveryAgent } from '../src/index';
import { quotedPrintableLine, toSevenBit } from '../src/internal/seven-bit';
import { useLoopbackMx } from './loopback-mx';
import { parseWithPython } from './python-email';

// RFC 6152 3: 8-bit octets never go raw to a server that does not offer 8BITMIME. The body is
// made 7-bit (quoted-printable for each affected leaf part, as Postfix does) or the message fails
// with 5.6.3 when it cannot be (interop F3).

const loopback = useLoopbackMx();
const { agents, closers } = loopback;

/** A raw SMTP server that records the MAIL lines and the exact octets of each message. */
async function server(eightBitMime: boolean) {
  const mails: string[] = [];
  const messages: Buffer[] = [];
  const raw = await rawServer((socket) => {
    let data: Buffer[] | undefined;
    let pending = Buffer.alloc(0);
    socket.write('220 raw.example ESMTP\r\n');
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (let end = pending.indexOf('\r\n'); end !== -1; end = pending.indexOf('\r\n')) {
        const line = pending.subarray(0, end);
        pending = pending.subarray(end + 2);
        if (data !== undefined) {
          if (line.toString('latin1') === '.') {
            messages.push(Buffer.concat(data));
            data = undefined;
            socket.write('250 2.0.0 Queued\r\n');
          } else data.push(Buffer.concat([line[0] === 0x2e ? line.subarray(1) : line, Buffer.from('\r\n')]));
          continue;
        }
        const text = line.toString('latin1');
        const verb = text.slice(0, 4).toUpperCase();
        if (verb === 'EHLO')
          socket.write(`250-raw.example\r\n${eightBitMime ? '250-8BITMIME\r\n' : ''}250 PIPELINING\r\n`);
        else if (verb === 'MAIL') {
          mails.push(text);
          socket.write('250 2.1.0 Ok\r\n');
        } else if (verb === 'DATA') {
          data = [];
          socket.write('354 Go ahead\r\n');
        } else if (verb === 'QUIT') socket.end('221 Bye\r\n');
        else socket.write('250 Ok\r\n');
      }
    });
  });
  closers.push(raw.close);
  return { ...raw, mails, messages };
}

function agent(port: number): DeliveryAgent {
  const created = createDeliveryAgent({
    resolver: createResolver({ servers: [loopback.dns.address] }),
    hostname: 'mta.example.org',
    port,
    addressPreference: 'ipv4',
  });
  agents.push(created);
  return created;
}

const sevenBitOnly = (bytes: Buffer) => bytes.every((octet) => octet < 0x80);

/** Python's email package: each leaf part's content type, transfer encoding, and decoded octets (hex). */
const LEAVES_SCRIPT = `
import email, json, sys
m = email.message_from_bytes(sys.stdin.buffer.read())
print(json.dumps([
  {"type": p.get_content_type(), "cte": p.get("Content-Transfer-Encoding"), "hex": p.get_payload(decode=True).hex()}
  for p in m.walk() if not p.is_multipart()
]))
`;
type Leaf = { type: string; cte: string | null; hex: string };

const latin1 = (text: string) => Buffer.from(text, 'latin1');
// UTF-8 text and raw octets 0x80-0xff that are not UTF-8, as interop's 8bit.eml.
const eightBitText = Buffer.concat([
  Buffer.from('Grüße aus Köln, ça va? = sign, trailing space \r\nline two\r\n', 'utf8'),
  Buffer.from(Array.from({ length: 128 }, (_, index) => 0x80 + index)),
  Buffer.from(`\r\n.a dot line\r\n${'long ü '.repeat(40)}\r\n`, 'utf8'),
]);

describe('to a server without 8BITMIME', { timeout: 20_000 }, () => {
  it('a plain 8-bit message arrives as 7-bit quoted-printable that decodes to the original octets', async () => {
    const peer = await server(false);
    const message = Buffer.concat([
      Buffer.from('From: a@example.org\r\nTo: b@example.net\r\nSubject: eight bits\r\n\r\n'),
      eightBitText,
    ]);
    const result = await agent(peer.port).deliver({ from: 'a@example.org', to: ['b@example.net'] }, message);
    expect(result.recipients[0]!.status).toBe('delivered');
    const arrived = peer.messages[0]!;
    expect(sevenBitOnly(arrived)).toBe(true);
    expect(peer.mails[0]).not.toMatch(/BODY=/);
    expect(
      arrived
        .toString('latin1')
        .split('\r\n')
        .every((line) => line.length <= 76 || !line.includes('=')),
    ).toBe(true);
    const [leaf] = parseWithPython(arrived, LEAVES_SCRIPT) as Leaf[];
    expect(leaf).toMatchObject({ type: 'text/plain', cte: 'quoted-printable' });
    expect(Buffer.from(leaf!.hex, 'hex').equals(eightBitText)).toBe(true);
  });

  it('a multipart converts only its 8-bit leaf parts, from a stream of unknown content', async () => {
    const peer = await server(false);
    const attachment = Buffer.from('plain seven-bit attachment').toString('base64');
    const message = Buffer.concat([
      latin1(
        'From: a@example.org\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\npreamble\r\n--b1\r\n' +
          'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n',
      ),
      eightBitText,
      latin1(
        `--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n${attachment}\r\n--b1--\r\n`,
      ),
    ]);
    // Chunks that split the message anywhere: delivery reads it once to find out it is 8-bit.
    const chunks = Array.from({ length: Math.ceil(message.length / 37) }, (_, index) =>
      message.subarray(index * 37, index * 37 + 37),
    );
    const result = await agent(peer.port).deliver(
      { from: 'a@example.org', to: ['b@example.net'] },
      { open: () => Readable.from(chunks) },
    );
    expect(result.recipients[0]!.status).toBe('delivered');
    const arrived = peer.messages[0]!;
    expect(sevenBitOnly(arrived)).toBe(true);
    const leaves = parseWithPython(arrived, LEAVES_SCRIPT) as Leaf[];
    expect(leaves.map((leaf) => [leaf.type, leaf.cte])).toEqual([
      ['text/plain', 'quoted-printable'],
      ['application/octet-stream', 'base64'],
    ]);
    expect(Buffer.from(leaves[0]!.hex, 'hex').equals(eightBitText.subarray(0, -2))).toBe(true);
    expect(arrived.toString('latin1')).toContain(`\r\n\r\n${attachment}\r\n--b1--\r\n`);
  });

  it('a 7-bit message goes as it is', async () => {
    const peer = await server(false);
    const message = 'Subject: plain\r\n\r\nonly ASCII here = fine\r\n';
    await agent(peer.port).deliver({ from: 'a@example.org', to: ['b@example.net'] }, message);
    expect(peer.messages[0]!.toString('latin1')).toBe(message);
  });

  it.each([
    ['an 8-bit header', latin1('Subject: Grüße\r\n\r\nbody\r\n'), /header/],
    [
      'an 8-bit message/rfc822 part',
      Buffer.concat([
        latin1(
          'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\n',
        ),
        eightBitText,
        latin1('--x--\r\n'),
      ]),
      /message\/rfc822/,
    ],
    [
      '8-bit octets in a base64 body',
      latin1('MIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\n\r\n\xe9\r\n'),
      /base64/,
    ],
  ])('%s cannot be converted: failed with 5.6.3, nothing sent', async (_name, message, why) => {
    const peer = await server(false);
    const result = await agent(peer.port).deliver({ from: 'a@example.org', to: ['b@example.net'] }, message);
    expect(result.recipients[0]).toMatchObject({ status: 'failed', enhanced: '5.6.3', mx: 'mx.example.net' });
    expect(result.recipients[0]!.reason).toMatch(why);
    expect(peer.mails).toHaveLength(0);
    expect(peer.messages).toHaveLength(0);
  });
});

describe('to a server with 8BITMIME', { timeout: 20_000 }, () => {
  it('8-bit octets go as they are, declared BODY=8BITMIME, from bytes or from a stream', async () => {
    const peer = await server(true);
    const message = Buffer.concat([latin1('Subject: raw\r\n\r\n'), eightBitText]);
    const delivering = agent(peer.port);
    await delivering.deliver({ from: 'a@example.org', to: ['b@example.net'] }, message);
    await delivering.deliver(
      { from: 'a@example.org', to: ['b@example.net'] },
      { open: () => Readable.from([message]) },
    );
    expect(peer.mails).toHaveLength(2);
    for (const mail of peer.mails) expect(mail).toMatch(/ BODY=8BITMIME/);
    for (const arrived of peer.messages) expect(arrived.equals(message)).toBe(true);
  });
});

describe('quoted-printable (RFC 2045 6.7)', () => {
  it('encodes =, 8-bit octets and trailing white space, and keeps lines to 76 octets', () => {
    expect(quotedPrintableLine('a=b \xe9 ')).toEqual(['a=3Db =E9=20']);
    const long = quotedPrintableLine('\xfc'.repeat(60));
    expect(long.every((line) => line.length <= 76)).toBe(true);
    expect(long.map((line) => line.replace(/=$/, '')).join('')).toBe('=FC'.repeat(60));
    expect(long.slice(0, -1).every((line) => line.endsWith('=') && !/=[0-9A-F]?=$/.test(line.slice(0, -1)))).toBe(true);
  });

  it('adds MIME headers to a message without them (RFC 1428)', () => {
    const result = toSevenBit(latin1('Subject: x\r\n\r\n\xe9\r\n'));
    expect(result.ok && result.message.toString('latin1')).toBe(
      'Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=unknown-8bit\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=E9\r\n',
    );
  });
});

describe('quoted-printable (property)', () => {
  /** RFC 2045 6.7 decoding: soft line breaks joined, =XX back to the octet. */
  const decode = (lines: string[]) =>
    lines
      .map((line, index) => (index < lines.length - 1 ? line.slice(0, -1) : line))
      .join('')
      .replace(/=([0-9A-F]{2})/g, (_, code: string) => String.fromCharCode(Number.parseInt(code, 16)));

  it('any line of octets encodes to printable ASCII lines of at most 76 that decode to it', () => {
    const octets = fc
      .uint8Array({ maxLength: 400 })
      .map((bytes) => Buffer.from(bytes.filter((octet) => octet !== 0x0a && octet !== 0x0d)).toString('latin1'));
    fc.assert(
      fc.property(octets, (line) => {
        const encoded = quotedPrintableLine(line);
        for (const out of encoded) {
          expect(out.length).toBeLessThanOrEqual(76);
          expect(/^[\x20-\x7e\t]*$/.test(out)).toBe(true);
          expect(/[ \t]$/.test(out)).toBe(false);
        }
        expect(decode(encoded)).toBe(line);
      }),
      { numRuns: 500 },
    );
  });
});
