// What a client meets on STARTTLS: the certificate the server presents, checked against a CA.
import { connect as connectTcp } from 'node:net';
import { connect as connectTls, type PeerCertificate } from 'node:tls';

/** EHLO, STARTTLS, a TLS handshake for `servername` trusting `ca` only; resolves the peer certificate and whether it verified. */
export function starttlsCertificate(
  port: number,
  servername: string,
  ca: string,
): Promise<{ certificate: PeerCertificate; authorized: boolean; error?: string }> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp({ host: '127.0.0.1', port });
    let buffer = '';
    let step = 0;
    socket.setEncoding('latin1');
    socket.once('error', reject);
    const onData = (chunk: string) => {
      buffer += chunk;
      // A whole reply ends with "NNN " or "NNN\r\n" on its last line (RFC 5321 4.2.1).
      if (!/(?:^|\r\n)\d{3}(?: [^\r\n]*)?\r\n$/.test(buffer)) return;
      const reply = buffer;
      buffer = '';
      if (step === 0) socket.write('EHLO client.test\r\n');
      else if (step === 1) socket.write('STARTTLS\r\n');
      else if (step === 2) {
        if (!reply.startsWith('220')) return reject(new Error(`STARTTLS refused: ${reply}`));
        socket.removeListener('data', onData);
        const secure = connectTls({ socket, servername, ca, rejectUnauthorized: false }, () => {
          const certificate = secure.getPeerCertificate(true);
          const authorized = secure.authorized;
          const error = secure.authorizationError === null ? undefined : String(secure.authorizationError);
          secure.end('QUIT\r\n');
          resolve({ certificate, authorized, ...(error === undefined ? {} : { error }) });
        });
        secure.once('error', reject);
      }
      step++;
    };
    socket.on('data', onData);
  });
}
