import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { MessageEnvelope } from '../src/core/client-commands';
import { type ClientEvent, ClientSession, type ClientSessionOptions } from '../src/core/client-session';

/**
 * Runs client-session transcripts written in Markdown (llhttp style). Each `## title` holds an
 * optional `options: {json}` line and a fenced block of steps:
 *   S: line        the server sends this line (CRLF added)
 *   C: line        the client must have sent exactly this line next
 *   E: event       the next non-Send event, rendered by `renderEvent`
 *   > start {json} startMessage(envelope)     > end-body    > bdat N [last]
 *   > tls-ok       > quit                      > closed      (the connection dropped)
 *   ! CODE         the last action threw SmtpClientError with this code
 */
export interface Transcript {
  title: string;
  options: ClientSessionOptions;
  steps: string[];
}

export function loadTranscripts(path: string): Transcript[] {
  const sections = readFileSync(path, 'utf8').split(/^## /m).slice(1);
  return sections.map((section) => {
    const title = section.split('\n')[0]!.trim();
    const optionsLine = /^options: (.*)$/m.exec(section);
    const block = /```smtp\n([\s\S]*?)```/.exec(section);
    if (!block) throw new Error(`transcript "${title}" has no smtp block`);
    return {
      title,
      options: { hostname: 'client.example', ...(optionsLine ? JSON.parse(optionsLine[1]!) : {}) },
      steps: block[1]!.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#')),
    };
  });
}

export function renderEvent(event: ClientEvent): string {
  switch (event.type) {
    case 'Ready':
      return `Ready ${[...event.extensions.keywords.keys()].join(',') || '-'}`;
    case 'SendBody':
      return `SendBody ${event.mode}`;
    case 'MessageDone': {
      const { accepted, rejected, dataReply } = event.result;
      const ok = accepted.map((r) => r.address).join(',') || '-';
      const no = rejected.map((r) => `${r.address}:${r.reply.code}`).join(',') || '-';
      return `MessageDone accepted=${ok} rejected=${no} data=${dataReply?.code ?? '-'}`;
    }
    case 'Failed':
      return `Failed ${event.error.code}`;
    default:
      return event.type;
  }
}

/** Plays a transcript; `byteByByte` feeds every server line one octet at a time. */
export function runTranscript(transcript: Transcript, byteByByte: boolean): void {
  const session = new ClientSession(transcript.options);
  const sent: string[] = [];
  const events: string[] = [];
  let thrown: string | undefined;
  const take = (list: ClientEvent[]) => {
    for (const event of list) {
      if (event.type === 'Send') sent.push(...event.data.toString('utf8').split('\r\n').slice(0, -1));
      else events.push(renderEvent(event));
    }
  };
  const act = (run: () => ClientEvent[]) => {
    thrown = undefined;
    try {
      take(run());
    } catch (error) {
      // Only the package's errors are expected outcomes; a TypeError is a bug to report as such.
      if ((error as { name?: string }).name !== 'SmtpError') throw error;
      thrown = (error as { code?: string }).code ?? String(error);
    }
  };
  transcript.steps.forEach((step, index) => {
    const where = `${transcript.title}, step ${index + 1}: ${step}`;
    const rest = step.slice(3);
    // An error the transcript does not expect must fail it, wherever it was thrown.
    if (!step.startsWith('! ') && thrown !== undefined) {
      expect.fail(`${where}: the previous action threw ${thrown}, which the transcript does not expect`);
    }
    if (step.startsWith('S: ')) {
      const data = Buffer.from(`${rest}\r\n`, 'utf8');
      if (byteByByte) for (let i = 0; i < data.length; i++) take(session.receive(data.subarray(i, i + 1)));
      else take(session.receive(data));
    } else if (step.startsWith('C: ')) {
      expect(sent.shift(), where).toBe(rest);
    } else if (step.startsWith('E: ')) {
      expect(events.shift(), where).toBe(rest);
    } else if (step.startsWith('! ')) {
      expect(thrown, where).toBe(step.slice(2));
      thrown = undefined;
    } else if (step.startsWith('> ')) {
      const [verb, ...args] = step.slice(2).split(' ');
      const argument = args.join(' ');
      if (verb === 'start') act(() => session.startMessage(JSON.parse(argument) as MessageEnvelope));
      else if (verb === 'end-body') act(() => session.endBody());
      else if (verb === 'bdat') act(() => session.bdatChunk(Buffer.alloc(Number(args[0]), 'x'), args[1] === 'last'));
      else if (verb === 'tls-ok') act(() => session.tlsEstablished());
      else if (verb === 'tls-fail') act(() => session.tlsFailed(new Error('handshake failure')));
      else if (verb === 'quit') act(() => session.quit());
      else if (verb === 'closed') act(() => session.connectionClosed());
      else throw new Error(`unknown action in ${where}`);
    } else {
      throw new Error(`cannot read ${where}`);
    }
  });
  expect(thrown, `${transcript.title}: the last action threw`).toBeUndefined();
  expect(sent, `${transcript.title}: client lines not accounted for`).toEqual([]);
  expect(events, `${transcript.title}: events not accounted for`).toEqual([]);
}
