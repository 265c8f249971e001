import { X509Certificate } from 'node:crypto';
import { connect as connectNet } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { certificateFiles } from '@homing/test-peers';
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type SmtpServer } from '../src/server';

const servers: SmtpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close({ timeoutMs: 1000 })));
});

/** The fingerprint of the certificate a STARTTLS (or implicit TLS) handshake presents. */
function presented(port: number, implicit: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const done = (socket: import('node:tls').TLSSocket) => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.destroy();
      resolve(fingerprint);
    };
    if (implicit) {
      const socket = connectTls({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => done(socket));
      socket.once('error', reject);
      return;
    }
    const plain = connectNet({ host: '127.0.0.1', port });
    let seen = '';
    let step = 0;
    plain.setEncoding('latin1');
    plain.on('data', (chunk: string) => {
      seen += chunk;
      if (!/^\d{3} .*\r\n$/m.test(seen)) return;
      seen = '';
      if (step === 0) plain.write('EHLO client.test\r\n');
      else if (step === 1) plain.write('STARTTLS\r\n');
      else {
        plain.removeAllListeners('data');
        const socket = connectTls({ socket: plain, rejectUnauthorized: false }, () => done(socket));
        socket.once('error', reject);
      }
      step++;
    });
    plain.once('error', reject);
  });
}

describe('setTls', () => {
  it('serves the new certificate to the next STARTTLS and implicit TLS handshake', async () => {
    const first = certificateFiles();
    const second = certificateFiles();
    const server = createServer({ hostname: 'mx.test', tls: { key: first.key, cert: first.cert } });
    servers.push(server);
    const plain = await server.listen({ host: '127.0.0.1', port: 0 });
    const implicit = await server.listen({ host: '127.0.0.1', port: 0, implicitTls: true });
    const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;
    expect(await presented(plain.port, false)).toBe(fingerprint(first.cert));
    expect(await presented(implicit.port, true)).toBe(fingerprint(first.cert));
    server.setTls({ key: second.key, cert: second.cert });
    expect(await presented(plain.port, false)).toBe(fingerprint(second.cert));
    expect(await presented(implicit.port, true)).toBe(fingerprint(second.cert));
  });

  it('refuses a key that is not a key, and keeps the old certificate', async () => {
    const first = certificateFiles();
    const server = createServer({ tls: { key: first.key, cert: first.cert } });
    servers.push(server);
    const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
    expect(() => server.setTls({ key: 'not a key', cert: first.cert })).toThrow();
    expect(await presented(port, false)).toBe(new X509Certificate(first.cert).fingerprint256);
  });
});
