// Connects to one of our listeners the way a sender does (STARTTLS on 25/587, TLS at once on 465)
// and gives the certificate it presents, verified for our hostname (RFC 3207, RFC 8314).
import { X509Certificate } from 'node:crypto';
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls, rootCertificates, type TLSSocket } from 'node:tls';

/** One listener to probe. */
export interface ListenerTarget {
  /** `mx`, `submission` or `submissions`. */
  listener: string;
  host: string;
  port: number;
  /** `starttls` (25, 587) or `implicit` (465). */
  mode: 'starttls' | 'implicit';
}

/** What the probe saw: the verified certificate, or why there is none. */
export type ProbeResult =
  | { ok: true; certificate: X509Certificate; protocol: string }
  | { ok: false; reason: string; code?: string; unreachable?: boolean };

/** Reads SMTP replies until one whose last line is final (`250 ...`, not `250-...`). */
function readReply(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      // Only complete lines count: a chunk may end inside one ("250" of "250-STARTTLS").
      const lines = text.split('\r\n').slice(0, -1);
      if (lines.some((line) => /^\d{3}( |$)/.test(line))) {
        socket.off('data', onData);
        resolve(text);
      } else if (text.length > 65_536) reject(new Error('the reply is longer than 64 KiB'));
    };
    socket.on('data', onData);
    socket.once('close', () =>
      reject(new Error(`the connection closed before a reply (got ${JSON.stringify(text.slice(0, 200))})`)),
    );
  });
}

/** Probes one listener with certificate verification on (extra CAs added to Node's bundle). */
export async function probeListener(
  target: ListenerTarget,
  hostname: string,
  options: { ca?: string[]; timeoutMs?: number } = {},
): Promise<ProbeResult> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const ca = options.ca && options.ca.length > 0 ? [...rootCertificates, ...options.ca] : undefined;
  const sockets: Socket[] = [];
  const work = (async (): Promise<ProbeResult> => {
    const tcp = await new Promise<Socket>((resolve, reject) => {
      const socket = connectTcp({ host: target.host, port: target.port });
      sockets.push(socket);
      socket.once('connect', () => resolve(socket));
      socket.once('error', reject);
    });
    if (target.mode === 'starttls') {
      const banner = await readReply(tcp);
      if (!banner.startsWith('220')) return { ok: false, reason: `the banner was ${banner.trim()}` };
      tcp.write(`EHLO ${hostname}\r\n`);
      const ehlo = await readReply(tcp);
      if (!/^250[- ]STARTTLS\b/im.test(ehlo)) return { ok: false, reason: 'STARTTLS is not offered' };
      tcp.write('STARTTLS\r\n');
      const go = await readReply(tcp);
      if (!go.startsWith('220')) return { ok: false, reason: `STARTTLS got ${go.trim()}` };
    }
    const secure = await new Promise<TLSSocket>((resolve, reject) => {
      // Verification stays on: a certificate a sender would refuse must fail here too.
      const socket = connectTls({ socket: tcp, servername: hostname, ca, rejectUnauthorized: true });
      sockets.push(socket);
      socket.once('secureConnect', () => resolve(socket));
      socket.once('error', reject);
    });
    const raw = secure.getPeerCertificate().raw;
    const protocol = secure.getProtocol() ?? 'TLS';
    return { ok: true, certificate: new X509Certificate(raw), protocol };
  })();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<ProbeResult>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, reason: `no answer within ${timeoutMs} ms` }), timeoutMs);
  });
  try {
    return await Promise.race([
      work.catch((error: NodeJS.ErrnoException): ProbeResult => {
        const code = error.code;
        if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
          return {
            ok: false,
            unreachable: true,
            code,
            reason: `nothing answers on ${target.host}:${target.port} (${code})`,
          };
        }
        return { ok: false, code, reason: describeTlsError(error, hostname) };
      }),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
    // Only the outermost socket is destroyed: destroying the TCP socket under a live TLS socket
    // crashes Node 20 (SIGSEGV), and the TLS socket takes its TCP socket down with it.
    sockets.at(-1)?.destroy();
  }
}

/** Node's certificate errors in words a newcomer can act on. */
function describeTlsError(error: NodeJS.ErrnoException, hostname: string): string {
  switch (error.code) {
    case 'CERT_HAS_EXPIRED':
      return 'the certificate has expired: renew it';
    case 'CERT_NOT_YET_VALID':
      return 'the certificate is not valid yet (check the clock)';
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `the certificate is not valid for ${hostname}: get one that names it`;
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return "the certificate is self-signed: senders that verify (MTA-STS, DANE) refuse it; get one from a CA (Let's Encrypt)";
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return 'the certificate is not signed by a CA senders trust, or the chain is incomplete (give the full chain in tls.cert)';
    default:
      return `TLS failed: ${error.message}`;
  }
}
