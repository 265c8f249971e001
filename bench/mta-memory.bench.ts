// Memory of `homing start`: peak RSS with 10,000 idle connections open (each past its greeting,
// so the connect filters ran), and the heap (nodejs_heap_size_used_bytes from /metrics) while a
// 200 MiB message streams through accept, spool and local delivery.
// Env: MTA_MEMORY_CONNECTIONS (default 10000), MTA_MEMORY_MESSAGE_MIB (default 200).
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBenchDns, startHomingProcess } from './lib/mta';

const connections = Number(process.env.MTA_MEMORY_CONNECTIONS ?? 10000);
const messageMiB = Number(process.env.MTA_MEMORY_MESSAGE_MIB ?? 200);

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) / 1024;
}

async function heapUsedMiB(metricsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  return Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(text)?.[1] ?? Number.NaN) / 1024 / 1024;
}

const dns = await startBenchDns();
const dir = mkdtempSync(join(tmpdir(), 'homing-bench-memory-'));
const limits = `limits: { connections: ${connections + 100}, connections_per_ip: ${connections + 100}, message_size: ${messageMiB + 10}M }`;
// Each part gets a server of its own (its own state directory under dir).
const startServer = (part: string) => {
  const partDir = join(dir, part);
  mkdirSync(partDir);
  return startHomingProcess(partDir, dns.address, { extra: [limits] });
};
let server = await startServer('idle');
let { child, port, metricsPort } = server;
const pid = child.pid!;
const sockets: Socket[] = [];
try {
  const idle = rssMiB(pid);
  let peak = idle;
  // Open the connections in batches, each waiting for its greeting.
  for (let opened = 0; opened < connections; ) {
    const batch = Math.min(500, connections - opened);
    await Promise.all(
      Array.from({ length: batch }, () => {
        return new Promise<void>((resolve, reject) => {
          const socket = connect({ host: '127.0.0.1', port });
          sockets.push(socket);
          socket.once('data', () => resolve());
          socket.once('error', reject);
        });
      }),
    );
    opened += batch;
    peak = Math.max(peak, rssMiB(pid));
  }
  await new Promise((r) => setTimeout(r, 1000));
  peak = Math.max(peak, rssMiB(pid));
  console.log(
    `| ${connections} idle connections | RSS ${idle.toFixed(0)} MiB before, ${peak.toFixed(0)} MiB peak | goal < 200 MB | ${peak * 1.048576 < 200 ? 'met' : 'NOT met'} |`,
  );
  for (const socket of sockets.splice(0)) socket.destroy();
  // The big message goes to a fresh server, so its heap is not what the 10,000 sessions left.
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
  server = await startServer('big');
  ({ child, port, metricsPort } = server);
  await new Promise((r) => setTimeout(r, 1000));

  // One big message, streamed by a client that writes as fast as the server reads.
  const heapBefore = await heapUsedMiB(metricsPort);
  let heapPeak = heapBefore;
  const sampler = setInterval(() => {
    heapUsedMiB(metricsPort).then(
      (value) => {
        heapPeak = Math.max(heapPeak, value);
      },
      () => undefined,
    );
  }, 200);
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let step = 0;
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      if (!/^\d{3} .*\r\n$/m.test(buffered)) return;
      const reply = buffered;
      buffered = '';
      step++;
      if (step === 1) socket.write('EHLO mail.sender.test\r\n');
      else if (step === 2) socket.write('MAIL FROM:<someone@sender.test>\r\n');
      else if (step === 3) socket.write('RCPT TO:<alice@example.org>\r\n');
      else if (step === 4) socket.write('DATA\r\n');
      else if (step === 5) {
        const line = `${'x'.repeat(76)}\r\n`;
        const chunk = Buffer.from(line.repeat(Math.floor((1024 * 1024) / line.length)));
        let sent = 0;
        const total = messageMiB;
        const pump = () => {
          while (sent < total) {
            sent++;
            if (!socket.write(chunk)) {
              socket.once('drain', pump);
              return;
            }
          }
          socket.write('.\r\n');
        };
        socket.write('Subject: big\r\n\r\n');
        pump();
      } else {
        if (!reply.startsWith('250')) reject(new Error(`the big message got ${reply}`));
        socket.end('QUIT\r\n');
        resolve();
      }
    });
    socket.once('error', reject);
  });
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  console.log(
    `| a ${messageMiB} MiB message through accept and spool | heap ${heapBefore.toFixed(0)} MiB before, ${heapPeak.toFixed(0)} MiB peak, ${(messageMiB / seconds).toFixed(0)} MiB/s | goal flat, < 64 MiB | ${heapPeak < 64 ? 'met' : 'NOT met'} |`,
  );
} finally {
  for (const socket of sockets) socket.destroy();
  child.kill('SIGTERM');
  await dns.close();
  await new Promise((r) => setTimeout(r, 1000));
  rmSync(dir, { recursive: true, force: true });
}
