import { describe, expect, it } from 'vitest';
import { NEED_DATA, PAUSED, ServerSession } from '../src';

// Plays a session to the end: every decision accepts; resolves the replies and whether it closed.
function play(chunks: Buffer[]): { replies: string[]; closed: boolean } {
  const session = new ServerSession({ maxMessageSize: 1000, tlsAvailable: false, secure: false });
  const replies: string[] = [];
  const drain = () => {
    for (;;) {
      const event = session.nextEvent();
      if (event === NEED_DATA || event === PAUSED) return;
      if (event.type === 'Reply') replies.push(event.data);
      else if (['Connect', 'Hello', 'MailFrom', 'RcptTo', 'MessageEnd'].includes(event.type)) {
        replies.push(session.send({ action: 'accept' }));
      }
    }
  };
  drain();
  for (const chunk of chunks) {
    if (session.closed) break;
    session.receiveData(chunk);
    drain();
  }
  return { replies, closed: session.closed };
}

const commands = Buffer.from('EHLO a.test\r\nMAIL FROM:<a@a.test>\r\nRCPT TO:<b@b.test>\r\nDATA\r\n');
const line = `${'x'.repeat(98)}\r\n`;

describe('a DATA body far over the size limit', () => {
  it('is refused with 552 5.3.4 and the session closes once it is twice the limit (1 MiB at least), without reading to its end', () => {
    // 1.2 MiB against a limit of 1,000, and an end of data that must not be reached.
    const body = Buffer.from(`${line.repeat(12_000)}.\r\nQUIT\r\n`);
    for (const cut of [body.length, 4096, 777]) {
      const chunks = [commands];
      for (let i = 0; i < body.length; i += cut) chunks.push(body.subarray(i, i + cut));
      const { replies, closed } = play(chunks);
      expect(replies.at(-1)).toBe('552 5.3.4 Message size exceeds fixed maximum message size; closing connection\r\n');
      expect(replies.some((r) => r.startsWith('221'))).toBe(false);
      expect(closed).toBe(true);
    }
  });

  it('a little over the limit is still read to its end and refused with 552, the session going on', () => {
    const body = Buffer.from(`${line.repeat(10_000)}.\r\nQUIT\r\n`);
    const { replies } = play([commands, body]);
    expect(replies.slice(-2)).toEqual([
      '552 5.3.4 Message size exceeds fixed maximum message size\r\n',
      '221 2.0.0 Bye\r\n',
    ]);
  });
});
