// Reads the Markdown transcripts under test/transcripts and plays them against a ServerSession.
// Line kinds inside a case: `O:` session options (JSON), `C:` a client line (CRLF added; \r \n \\ \xHH
// escapes), `R:` raw client bytes (escapes, no CRLF added), `D:` a decision for the next event of a
// type (`D: RcptTo reject 550 5.1.1 No such user`), `X: tls` / `X: close` actions between inputs,
// `S:` an expected server reply line, `E:` an expected event. Anything else is prose.
import { readFileSync } from 'node:fs';
import {
  type Decision,
  NEED_DATA,
  PAUSED,
  type ServerEvent,
  ServerSession,
  type ServerSessionOptions,
} from '../../src';

export interface TranscriptCase {
  file: string;
  name: string;
  options: ServerSessionOptions;
  /** Client input, split at actions. */
  inputs: ({ kind: 'bytes'; data: Buffer } | { kind: 'tls' } | { kind: 'close' })[];
  decisions: Map<string, Decision[]>;
  expected: string[];
}

function unescapeLine(text: string): string {
  return text.replace(/\\(x[0-9a-fA-F]{2}|r|n|t|\\)/g, (_, code: string) => {
    if (code === 'r') return '\r';
    if (code === 'n') return '\n';
    if (code === 't') return '\t';
    if (code === '\\') return '\\';
    return String.fromCharCode(Number.parseInt(code.slice(1), 16));
  });
}

function parseDecision(text: string): [string, Decision] {
  const [type, action, ...rest] = text.split(' ');
  if (action === 'accept') return [type!, { action: 'accept', ...(rest.length > 0 ? { text: rest.join(' ') } : {}) }];
  if (action === 'tag') return [type!, { action: 'tag', tag: rest[0] ?? 'tagged' }];
  const [code, enhanced, ...words] = rest;
  return [type!, { action: 'reject', code: Number(code), enhanced: enhanced!, text: words.join(' ') }];
}

/** Parses one Markdown transcript file into cases (one per `## ` heading). */
export function readTranscripts(path: string): TranscriptCase[] {
  const text = readFileSync(path, 'utf8');
  const cases: TranscriptCase[] = [];
  for (const section of text.split(/^## /m).slice(1)) {
    const [name, ...lines] = section.split('\n');
    const current: TranscriptCase = {
      file: path,
      name: name!.trim(),
      options: { hostname: 'mx.test' },
      inputs: [],
      decisions: new Map(),
      expected: [],
    };
    let pending: Buffer[] = [];
    const flush = () => {
      if (pending.length > 0) current.inputs.push({ kind: 'bytes', data: Buffer.concat(pending) });
      pending = [];
    };
    for (const line of lines) {
      const match = /^([OCRDXSE]): ?(.*)$/.exec(line);
      if (match === null) continue;
      const [, kind, rest] = match as unknown as [string, string, string];
      if (kind === 'O') current.options = { ...current.options, ...JSON.parse(rest) };
      else if (kind === 'C') pending.push(Buffer.from(`${unescapeLine(rest)}\r\n`, 'utf8'));
      else if (kind === 'R') pending.push(Buffer.from(unescapeLine(rest), 'latin1'));
      else if (kind === 'X') {
        flush();
        current.inputs.push({ kind: rest.trim() === 'tls' ? 'tls' : 'close' });
      } else if (kind === 'D') {
        const [type, decision] = parseDecision(rest.trim());
        current.decisions.set(type, [...(current.decisions.get(type) ?? []), decision]);
      } else current.expected.push(`${kind}: ${rest}`);
    }
    flush();
    cases.push(current);
  }
  return cases;
}

function describeEvent(event: ServerEvent): string {
  switch (event.type) {
    case 'Hello':
      return `Hello ${event.verb} ${event.domain}`;
    case 'Authenticate':
      return `Authenticate ${event.mechanism} ${event.username} ${event.password}${event.authorizationId ? ` authz=${event.authorizationId}` : ''}`;
    case 'MailFrom': {
      const { smtputf8, ...rest } = event.params;
      const params = { ...rest, ...(smtputf8 ? { smtputf8 } : {}) };
      return `MailFrom <${event.from?.address ?? ''}>${Object.keys(params).length > 0 ? ` ${JSON.stringify(params)}` : ''}`;
    }
    case 'RcptTo':
      return `RcptTo <${event.to.address}>${Object.keys(event.params).length > 0 ? ` ${JSON.stringify(event.params)}` : ''}`;
    case 'MessageStart':
      return `MessageStart ${event.mode}`;
    case 'MessageData':
      return `MessageData ${JSON.stringify(Buffer.from(event.data).toString('latin1'))}`;
    case 'MessageEnd':
      return `MessageEnd ${event.size}`;
    case 'MessageAborted':
      return `MessageAborted ${event.reason}`;
    case 'Closed':
      return `Closed ${event.reason}`;
    default:
      return event.type;
  }
}

/**
 * Plays a case, feeding each input in pieces cut at `splits` (offsets into that input; none
 * means whole). Returns the `S:`/`E:` log, with adjacent MessageData events merged so that how
 * the bytes were cut does not show.
 */
export function playTranscript(test: TranscriptCase, cut: (length: number) => number[] = () => []): string[] {
  const session = new ServerSession(test.options);
  const decisions = new Map([...test.decisions].map(([type, list]) => [type, [...list]]));
  const log: string[] = [];
  let data: Buffer[] = [];
  const flushData = () => {
    if (data.length > 0) log.push(`E: MessageData ${JSON.stringify(Buffer.concat(data).toString('latin1'))}`);
    data = [];
  };
  const output = (bytes: string) => {
    flushData();
    for (const line of bytes.split('\r\n').slice(0, -1)) log.push(`S: ${line}`);
  };
  const drain = () => {
    for (;;) {
      const event = session.nextEvent();
      if (event === NEED_DATA || event === PAUSED) {
        if (event === PAUSED && session.state !== 'CLOSED' && session.state !== 'TLS_HANDSHAKE') {
          throw new Error('paused without a decision event');
        }
        return;
      }
      if (event.type === 'MessageData') {
        data.push(Buffer.from(event.data));
        continue;
      }
      if (event.type === 'Reply') {
        output(event.data);
        continue;
      }
      flushData();
      log.push(`E: ${describeEvent(event)}`);
      if (['Connect', 'Hello', 'StartTls', 'Authenticate', 'MailFrom', 'RcptTo', 'MessageEnd'].includes(event.type)) {
        const decision = decisions.get(event.type)?.shift() ?? { action: 'accept' };
        output(session.send(decision));
      }
    }
  };
  drain();
  for (const input of test.inputs) {
    if (input.kind === 'tls') session.tlsStarted();
    else if (input.kind === 'close') session.receiveData(new Uint8Array(0));
    else {
      let from = 0;
      for (const at of [...cut(input.data.length), input.data.length]) {
        if (at <= from) continue;
        session.receiveData(input.data.subarray(from, at));
        drain();
        from = at;
      }
    }
    drain();
  }
  flushData();
  return log;
}
