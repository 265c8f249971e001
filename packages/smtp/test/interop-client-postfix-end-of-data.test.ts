// Issue 11 item 1 against a real Postfix 3.7 (the Debian binaries, a throw-away instance on
// loopback). With `smtpd_end_of_data_restrictions`, Postfix keeps its transaction after refusing a
// message at the end of data; a client that sends the next MAIL on that session gets
// `503 nested MAIL command`, and a pipelined DATA then goes to the OLD transaction. The next message
// on the same client session must still arrive intact, and Postfix must queue nothing else.
import { createServer, type Server } from 'node:net';
import { type PostfixServer, skipWithoutPeers, startPostfix } from '@homing/test-peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../src/client';

let policy: Server;
let policyPort: number;
const policyRequests: string[] = [];

// A Postfix policy service (SMTPD_POLICY_README): attribute lines, an empty line, then our action.
// It refuses at the end of data every message whose sender starts with "eod-reject".
beforeAll(async () => {
  policy = createServer((socket) => {
    let buffer = '';
    socket.on('error', () => {});
    socket.on('data', (data) => {
      buffer += data.toString('latin1');
      for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
        const request = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const attributes = new Map(
          request.split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
        );
        const sender = attributes.get('sender') ?? '';
        policyRequests.push(`${attributes.get('protocol_state')} ${sender}`);
        const refuse = attributes.get('protocol_state') === 'END-OF-MESSAGE' && sender.startsWith('eod-reject');
        socket.write(refuse ? 'action=REJECT 5.7.1 Rejected at end of data\n\n' : 'action=DUNNO\n\n');
      }
    });
  });
  await new Promise<void>((resolve) => policy.listen(0, '127.0.0.1', resolve));
  policyPort = (policy.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise((resolve) => policy?.close(resolve));
});

const variants = [
  { name: 'CHUNKING and PIPELINING offered (the client uses BDAT)', discard: [] as string[], mode: 'BDAT' },
  { name: 'CHUNKING off, PIPELINING on (DATA in the pipelined group)', discard: ['chunking'], mode: 'DATA' },
  {
    name: 'neither CHUNKING nor PIPELINING (one command at a time)',
    discard: ['chunking', 'pipelining'],
    mode: 'DATA',
  },
];

describe.skipIf(skipWithoutPeers('postfixServer')).each(variants)(
  '@homing/smtp/client after Postfix refuses at the end of data: $name',
  (variant) => {
    let postfix: PostfixServer;

    beforeAll(async () => {
      postfix = await startPostfix({
        mainCf: [
          `smtpd_end_of_data_restrictions = check_policy_service inet:127.0.0.1:${policyPort}`,
          ...(variant.discard.length > 0 ? [`smtpd_discard_ehlo_keywords = ${variant.discard.join(', ')}`] : []),
        ],
      });
    }, 60_000);
    afterAll(async () => {
      await postfix?.stop();
    });

    it('delivers the next message on the same session intact, and Postfix queues nothing else', async () => {
      const client = await connect({
        host: '127.0.0.1',
        port: postfix.port,
        hostname: 'client.homing.test',
        tls: { mode: 'none' },
      });
      expect(client.extensions.chunking && client.extensions.pipelining ? 'BDAT' : 'DATA').toBe(variant.mode);
      const refused = await client.send({
        from: 'eod-reject@homing.test',
        to: ['first@postfix.test'],
        message: 'Subject: refused\r\n\r\nThis one is refused at the end of data.\r\n',
      });
      expect(refused.accepted).toEqual([]);
      expect(refused.rejected.map((r) => `${r.address} ${r.reply.code}`)).toEqual(['first@postfix.test 554']);
      expect(client.usable).toBe(true);

      const body =
        'Subject: innocent\r\nMessage-ID: <innocent@homing.test>\r\n\r\nThe next message, intact.\r\n.dot line\r\n';
      const next = await client.send({ from: 'innocent@homing.test', to: ['second@postfix.test'], message: body });
      expect(next.accepted.map((r) => r.address)).toEqual(['second@postfix.test']);
      expect(next.rejected).toEqual([]);
      expect(next.dataReply?.code).toBe(250);
      await client.close();

      // What Postfix stored: one message, the innocent one, for its own recipient, with its body.
      const queued = await postfix.queue();
      expect(
        queued.map((m) => `${m.queue_name} ${m.sender} -> ${m.recipients.map((r) => r.address).join(',')}`),
      ).toEqual(['hold innocent@homing.test -> second@postfix.test']);
      const [stored] = await postfix.heldMessages();
      expect(stored).toContain('Message-ID: <innocent@homing.test>');
      expect(stored).toContain('The next message, intact.\n.dot line\n');
      expect(postfix.log()).not.toContain('nested MAIL command');
      expect(policyRequests).toContain('END-OF-MESSAGE eod-reject@homing.test');
    });
  },
);
