// A well-behaved client in its own process (so the battery's own load generation cannot slow it
// down and blur the figure): one whole SMTP session after another to 127.0.0.1:PORT, each with
// a fresh message, printing one JSON line per session: {"id","ms","reply"}. Stops on SIGTERM.
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';

const port = Number(process.argv[2]);
const pauseMs = Number(process.argv[3] ?? 100);
const prefix = process.argv[4] ?? 'good';
let running = true;
process.on('SIGTERM', () => {
  running = false;
});

function session(id, message) {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect({ host: '127.0.0.1', port });
    const script = [
      null,
      'EHLO good.sender.test\r\n',
      'MAIL FROM:<someone@sender.test>\r\n',
      'RCPT TO:<alice@example.org>\r\n',
      'DATA\r\n',
      `${message}.\r\n`,
    ];
    let step = 0;
    let buffer = '';
    let done = false;
    const finish = (reply, accepted) => {
      if (done) return;
      done = true;
      const ms = performance.now() - started;
      if (accepted) socket.end('QUIT\r\n');
      else socket.destroy();
      resolve({ id, ms, reply, accepted });
    };
    const timer = setTimeout(() => finish('timeout after 30 s', false), 30_000);
    socket.setEncoding('latin1');
    socket.on('error', (error) => finish(`error: ${error.message}`, false));
    socket.on('close', () => finish('closed', false));
    socket.on('data', (chunk) => {
      buffer += chunk;
      for (;;) {
        const match = /^(?:\d{3}-.*\r\n)*\d{3}(?: .*)?\r\n/.exec(buffer);
        if (!match) return;
        buffer = buffer.slice(match[0].length);
        const reply = match[0].trimEnd().split('\r\n').pop();
        if (step === script.length - 1) {
          clearTimeout(timer);
          finish(reply, reply.startsWith('250'));
          return;
        }
        if (!/^[23]/.test(reply)) {
          clearTimeout(timer);
          finish(reply, false);
          return;
        }
        step++;
        socket.write(script[step]);
      }
    });
  });
}

let n = 0;
while (running) {
  const id = `${prefix}-${process.pid}-${n++}`;
  const message = [
    'From: someone@sender.test',
    'To: alice@example.org',
    `Subject: good ${id}`,
    `Message-ID: <${id}@sender.test>`,
    `X-Battery-Id: ${id}`,
    '',
    `a well-behaved message, ${id}`,
    '',
  ].join('\r\n');
  const checksum = createHash('sha256')
    .update(message.slice(message.indexOf('X-Battery-Id: ')))
    .digest('hex');
  const result = await session(id, message);
  process.stdout.write(`${JSON.stringify({ ...result, checksum, at: Date.now() })}\n`);
  await new Promise((r) => setTimeout(r, pauseMs));
}
