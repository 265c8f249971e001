// Checks that a benchmarked server really signs: a tiny SMTP receiver on loopback that keeps what
// it receives (smtp-sink only counts), and dkimpy (Debian python3-dkim, the module of dkimverify)
// verifying the first DKIM-Signature of a kept message against the loopback DNS server.
import { createServer, type Socket } from 'node:net';

/** An SMTP receiver on `host:port` that answers 250 to everything and keeps each message's content. */
export async function startCapture(
  host: string,
  port: number,
): Promise<{ messages: string[]; close(): Promise<void> }> {
  const messages: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.write('220 capture ESMTP\r\n');
    let buffered = '';
    let data: string | undefined;
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      for (;;) {
        if (data !== undefined) {
          const end = buffered.indexOf('\r\n.\r\n');
          if (end === -1) return;
          // RFC 5321 4.5.2: a leading dot of a content line was doubled by the client.
          messages.push((buffered.slice(0, end + 2) as string).replace(/^\.\./gm, '.'));
          buffered = buffered.slice(end + 5);
          data = undefined;
          socket.write('250 2.0.0 kept\r\n');
          continue;
        }
        const end = buffered.indexOf('\r\n');
        if (end === -1) return;
        const verb = buffered.slice(0, end).slice(0, 4).toUpperCase();
        buffered = buffered.slice(end + 2);
        if (verb === 'EHLO') socket.write('250-capture\r\n250 8BITMIME\r\n');
        else if (verb === 'DATA') {
          data = '';
          socket.write('354 go ahead\r\n');
        } else if (verb === 'QUIT') socket.end('221 2.0.0 bye\r\n');
        else socket.write('250 2.0.0 ok\r\n');
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return {
    messages,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** dkimpy's verdict on a message's first DKIM-Signature (from @homing/test-peers). */
export { dkimpyVerify } from '@homing/test-peers';

/** The DKIM-Signature fields of a message, unfolded. */
export function dkimSignatures(message: string): string[] {
  const head = message.slice(0, message.search(/\r?\n\r?\n/));
  return [...head.matchAll(/^DKIM-Signature:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*/gim)].map((match) =>
    match[0].replace(/\r?\n[ \t]/g, ' '),
  );
}

/** A tag's value in a DKIM-Signature field (h=, d=, c=, ...), whitespace removed. */
export function dkimTag(signature: string, tag: string): string | undefined {
  const value = new RegExp(`[;:]\\s*${tag}=([^;]*)`).exec(signature)?.[1];
  return value?.replace(/\s+/g, '');
}
