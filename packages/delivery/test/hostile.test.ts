import type { Socket } from 'node:net';
import { createResolver } from '@homing/dns';
import { lines, rawServer } from '@homing/test-peers';
import { describe, expect, it } from 'vitest';
import { createDeliveryAgent } from '../src/index';
import { useLoopbackMx } from './loopback-mx';

// Broken and hostile receivers, each a few lines of raw `net`: every one must end as a deferral
// with its reason, within the timeouts, and nothing may be sent twice on a session.

const loopback = useLoopbackMx();
const { agents, closers } = loopback;
const TIMEOUT = 700;

interface Script {
  greeting?: (socket: Socket) => void;
  ehlo?: string;
  /** Called with each line after EHLO; return true when handled. */
  command?: (socket: Socket, line: string) => boolean;
  afterDataStart?: (socket: Socket) => void;
  endOfData?: (socket: Socket) => void;
}

/** A scripted SMTP server; counts MAIL commands so a resend would show. */
async function scripted(script: Script) {
  const mails: string[] = [];
  const server = await rawServer((socket) => {
    let inData = false;
    let dataStarted = false;
    if (script.greeting) script.greeting(socket);
    else socket.write('220 hostile.example ESMTP\r\n');
    lines(socket, (line) => {
      if (inData) {
        if (!dataStarted) {
          dataStarted = true;
          script.afterDataStart?.(socket);
        }
        if (line === '.') {
          inData = false;
          if (script.endOfData) script.endOfData(socket);
          else socket.write('250 2.0.0 Queued\r\n');
        }
        return;
      }
      if (script.command?.(socket, line)) return;
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'EHLO') socket.write(script.ehlo ?? '250-hostile.example\r\n250 PIPELINING\r\n');
      else if (verb === 'MAIL') {
        mails.push(line);
        socket.write('250 2.1.0 Ok\r\n');
      } else if (verb === 'RCPT') socket.write('250 2.1.5 Ok\r\n');
      else if (verb === 'DATA') {
        inData = true;
        socket.write('354 Go ahead\r\n');
      } else if (verb === 'QUIT') socket.end('221 Bye\r\n');
      else socket.write('250 Ok\r\n');
    });
  });
  closers.push(server.close);
  return { ...server, mails };
}

async function attempt(port: number, body = 'Subject: x\r\n\r\nbody\r\n') {
  const agent = createDeliveryAgent({
    resolver: createResolver({ servers: [loopback.dns.address] }),
    hostname: 'mta.example.org',
    port,
    addressPreference: 'ipv4',
    timeouts: {
      connectMs: TIMEOUT,
      greetingMs: TIMEOUT,
      commandMs: TIMEOUT,
      mailMs: TIMEOUT,
      rcptMs: TIMEOUT,
      dataStartMs: TIMEOUT,
      dataBlockMs: TIMEOUT,
      dataEndMs: TIMEOUT,
    },
  });
  agents.push(agent);
  const started = Date.now();
  const result = await agent.deliver({ from: 'a@example.org', to: ['b@example.net'] }, body);
  return { outcome: result.recipients[0]!, elapsed: Date.now() - started, agent };
}

describe('hostile receivers end as deferrals within the timeouts', { timeout: 20_000 }, () => {
  it('a garbage greeting', async () => {
    const server = await scripted({ greeting: (socket) => socket.write('HELLO THERE I AM NOT SMTP\r\n') });
    const { outcome, elapsed } = await attempt(server.port);
    expect(outcome.status).toBe('deferred');
    expect(outcome.reason.length).toBeGreaterThan(0);
    expect(elapsed).toBeLessThan(5000);
  });

  it('an over-long reply line', async () => {
    const server = await scripted({ greeting: (socket) => socket.write(`220 ${'x'.repeat(100_000)}\r\n`) });
    const { outcome, elapsed } = await attempt(server.port);
    expect(outcome.status).toBe('deferred');
    expect(elapsed).toBeLessThan(5000);
  });

  it('a multi-line reply that never ends', async () => {
    const server = await scripted({
      greeting: (socket) => {
        const timer = setInterval(() => {
          if (socket.destroyed) clearInterval(timer);
          else socket.write('220-still going\r\n');
        }, 5);
        socket.on('close', () => clearInterval(timer));
      },
    });
    const { outcome, elapsed } = await attempt(server.port);
    expect(outcome.status).toBe('deferred');
    expect(elapsed).toBeLessThan(5000);
  });

  it('a server that stalls after the greeting', async () => {
    const server = await scripted({ command: () => true });
    const { outcome, elapsed } = await attempt(server.port);
    expect(outcome).toMatchObject({ status: 'deferred', enhanced: '4.4.2' });
    expect(outcome.reason).toMatch(/time|timed|ms/i);
    expect(elapsed).toBeLessThan(5000);
  });

  it('a server that stalls after DATA: deferred once, never resent on the session', async () => {
    const server = await scripted({ endOfData: () => {} });
    const { outcome, elapsed, agent } = await attempt(server.port);
    expect(outcome).toMatchObject({ status: 'deferred', enhanced: '4.4.2' });
    expect(elapsed).toBeLessThan(5000);
    expect(server.mails).toHaveLength(1);
    // The broken session is thrown away: a second delivery opens a new connection.
    await agent.deliver({ from: 'a@example.org', to: ['b@example.net'] }, 'Subject: y\r\n\r\nsecond\r\n');
    expect(server.connections()).toBe(2);
    expect(server.mails).toHaveLength(2);
  });

  it('a disconnect in the middle of DATA', async () => {
    const server = await scripted({ afterDataStart: (socket) => socket.destroy() });
    const body = `Subject: big\r\n\r\n${'line of text\r\n'.repeat(20_000)}`;
    const { outcome, elapsed } = await attempt(server.port, body);
    expect(outcome.status).toBe('deferred');
    expect(elapsed).toBeLessThan(5000);
    expect(server.mails).toHaveLength(1);
  });

  it('a TLS handshake that fails after STARTTLS', async () => {
    const server = await scripted({
      ehlo: '250-hostile.example\r\n250 STARTTLS\r\n',
      command: (socket, line) => {
        if (line.toUpperCase() !== 'STARTTLS') return false;
        socket.write('220 Ready to start TLS\r\n');
        socket.once('data', () => socket.write('this is not a TLS server hello\r\n'));
        return true;
      },
    });
    const { outcome, elapsed } = await attempt(server.port);
    expect(outcome).toMatchObject({ status: 'deferred', enhanced: '4.7.5' });
    expect(elapsed).toBeLessThan(5000);
    expect(server.mails).toHaveLength(0);
  });

  it('a 421 greeting', async () => {
    const server = await scripted({ greeting: (socket) => socket.end('421 4.3.2 Too busy\r\n') });
    const { outcome } = await attempt(server.port);
    expect(outcome.status).toBe('deferred');
    expect(outcome.reason).toMatch(/421/);
  });
});
