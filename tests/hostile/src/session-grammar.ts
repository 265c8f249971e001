// Grammar-aware SMTP sessions for the fuzzer: a valid session (EHLO, maybe STARTTLS, MAIL, RCPT,
// DATA or BDAT, RSET, QUIT) built from a seeded random source, then mutated where attackers
// mutate: verbs, parameters, addresses, line endings, TLS starts and BDAT sizes. Message bodies
// are kept whole (each carries its id and a trailer) so that whatever reaches the Maildir can be
// checked against what was sent; the smuggling battery covers bodies with broken line endings.
import { createHash } from 'node:crypto';

/** A seeded random source (mulberry32): the same seed gives the same sessions. */
export class Random {
  constructor(private state: number) {}
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

/** One step of a session: bytes to write, and whether a TLS handshake follows them. */
export type Step = { kind: 'write'; data: Buffer } | { kind: 'starttls' } | { kind: 'garbage-tls'; data: Buffer };

export interface FuzzSession {
  steps: Step[];
  /** Id -> checksum of every message body the session carries. */
  bodies: Map<string, string>;
}

const VERBS = [
  'EHLO',
  'HELO',
  'MAIL',
  'RCPT',
  'DATA',
  'BDAT',
  'RSET',
  'NOOP',
  'QUIT',
  'VRFY',
  'EXPN',
  'HELP',
  'AUTH',
  'STARTTLS',
];
const PARAMS = [
  'SIZE=1000',
  'SIZE=99999999999999999999',
  'SIZE=-1',
  'BODY=8BITMIME',
  'BODY=BINARYMIME',
  'BODY=junk',
  'SMTPUTF8',
  'RET=HDRS',
  'ENVID=abc+2Bdef',
  'AUTH=<>',
  'NOTIFY=SUCCESS,FAILURE',
  'ORCPT=rfc822;a@b',
  'X-UNKNOWN=1',
  '=',
  'SIZE',
];
const ENDINGS = ['\r\n', '\n', '\r', '\r\r\n', '', '\r\n\r\n', '\0\r\n'];

function randomBytes(random: Random, max: number): string {
  let out = '';
  const n = random.int(max);
  for (let i = 0; i < n; i++) out += String.fromCharCode(random.int(256));
  return out;
}

function mutateText(random: Random, text: string): string {
  switch (random.int(8)) {
    case 0:
      return text.toLowerCase();
    case 1:
      return text.slice(0, random.int(text.length + 1));
    case 2:
      return text + randomBytes(random, 20);
    case 3: {
      const at = random.int(text.length + 1);
      return text.slice(0, at) + randomBytes(random, 5) + text.slice(at);
    }
    case 4:
      return text.repeat(1 + random.int(3));
    case 5:
      return text + 'x'.repeat(random.pick([100, 600, 1100, 70_000]));
    case 6:
      return text.replace(/[<>]/g, '');
    default:
      return ` ${text} `;
  }
}

function address(random: Random): string {
  const valid = random.pick([
    'alice@example.org',
    'alice+fuzz@example.org',
    'postmaster@example.org',
    'someone@sender.test',
  ]);
  if (!random.chance(0.3)) return valid;
  return random.pick([
    mutateText(random, valid),
    `"${valid}"`,
    `@a.test:${valid}`,
    `${valid}\0`,
    'a'.repeat(300) + '@example.org',
    `alice@${'b'.repeat(70)}.example.org`,
    'alice@[127.0.0.1]',
    'ålice@exämple.org',
    '',
  ]);
}

function body(id: string, random: Random): string {
  const lines = [`X-Battery-Id: ${id}`, 'Subject: fuzz', ''];
  const n = random.int(40);
  for (let i = 0; i < n; i++)
    lines.push(random.chance(0.1) ? `.dot-line ${i}` : `line ${i} ${'z'.repeat(random.int(200))}`);
  lines.push(`END-OF-${id}`, '');
  return lines.join('\r\n');
}

/** In `bodies`: a BDAT message sent with a wrong size, whose stored form cannot be predicted. */
export const SKEWED = 'skewed';

/** The checksum of a stored fuzz message, from its X-Battery-Id header on. */
export function fuzzChecksum(text: string): string {
  return createHash('sha256')
    .update(text.slice(text.search(/^X-Battery-Id: /m)))
    .digest('hex');
}

/** A session: mostly valid, with a few mutations at the places attackers mutate. */
export function generateSession(random: Random, tag: string): FuzzSession {
  const steps: Step[] = [];
  const bodies = new Map<string, string>();
  let pending = '';
  const line = (text: string) => {
    const mutated = random.chance(0.15) ? mutateText(random, text) : text;
    pending += mutated + (random.chance(0.08) ? random.pick(ENDINGS) : '\r\n');
  };
  const flush = () => {
    if (pending !== '') steps.push({ kind: 'write', data: Buffer.from(pending, 'latin1') });
    pending = '';
  };
  line(`${random.pick(['EHLO', 'HELO', 'EHLO', 'ehlo'])} fuzz-${tag}.example.test`);
  if (random.chance(0.15)) {
    line('STARTTLS');
    flush();
    if (random.chance(0.3)) steps.push({ kind: 'garbage-tls', data: Buffer.from(randomBytes(random, 300), 'latin1') });
    else {
      steps.push({ kind: 'starttls' });
      line(`EHLO fuzz-${tag}.example.test`);
    }
  }
  const transactions = 1 + random.int(3);
  for (let t = 0; t < transactions; t++) {
    const params = random.chance(0.3) ? ` ${random.pick(PARAMS)}` : '';
    line(`MAIL FROM:<${address(random)}>${params}`);
    const recipients = 1 + random.int(random.chance(0.1) ? 150 : 3);
    for (let r = 0; r < recipients; r++)
      line(`RCPT TO:<${address(random)}>${random.chance(0.1) ? ` ${random.pick(PARAMS)}` : ''}`);
    if (random.chance(0.05)) line(`${random.pick(VERBS)} ${randomBytes(random, 30)}`);
    const id = `fuzz-${tag}-${t}`;
    const text = body(id, random);
    bodies.set(id, fuzzChecksum(text));
    if (random.chance(0.7)) {
      line('DATA');
      flush();
      pending += `${text.replace(/^\./gm, '..')}.\r\n`;
    } else {
      // BDAT: the declared sizes are right, or off by some (the rest is then read as commands).
      const octets = Buffer.from(text, 'latin1');
      const cut = random.int(octets.length);
      const skew = random.chance(0.2) ? random.pick([-5, 3, 1_000_000, -octets.length]) : 0;
      pending += `BDAT ${cut}\r\n${octets.subarray(0, cut).toString('latin1')}`;
      pending += `BDAT ${octets.length - cut + skew} LAST\r\n${octets.subarray(cut).toString('latin1')}`;
      // A wrong size makes another message of it (longer or shorter): still one the client sent.
      if (skew !== 0) bodies.set(id, SKEWED);
    }
    if (random.chance(0.2)) line('RSET');
  }
  if (random.chance(0.1)) line(randomBytes(random, 600));
  line(random.chance(0.8) ? 'QUIT' : 'NOOP');
  flush();
  return { steps, bodies };
}
