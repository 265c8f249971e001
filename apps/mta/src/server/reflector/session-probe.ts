// What the test message's path looked like: the recipient domain's MX (in delivery's own order,
// by @homing/delivery's routing) and the session that carried the message, as @homing/delivery
// reported it in the outcome (`RecipientOutcome.session`). When no session carried it (no MX
// answered, or it was delivered locally), one probe session to the first MX host from our source
// address stands in (EHLO, STARTTLS, QUIT: no mail), and the report says it is a probe.
import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { type DeliveryResolver, type DeliverySession, resolveHostAddresses, resolveMailRoute } from '@homing/delivery';

/** The probe's findings. */
export interface SessionProbe {
  domain: string;
  mx: string[];
  host?: string;
  address?: string;
  family?: 'ipv4' | 'ipv6';
  source?: string;
  port: number;
  /** Each reply, with the command that drew it (`(banner)` for the greeting). */
  replies: { command: string; reply: string }[];
  tls?: { version: string | null; cipher: string; verified: boolean; error?: string };
  error?: string;
  /** True when this is a probe session, not the one that carried the message. */
  probe?: boolean;
}

/** The session that carried the message (from delivery's outcome), in the probe's shape. */
export async function deliveredSession(
  recipient: string,
  session: DeliverySession,
  resolver: DeliveryResolver,
): Promise<SessionProbe> {
  const domain = recipient.slice(recipient.lastIndexOf('@') + 1).toLowerCase();
  const route = await resolveMailRoute(domain, resolver).catch(() => undefined);
  return {
    domain,
    mx: route?.exchangers.map((exchanger) => exchanger.host) ?? [session.host],
    host: session.host,
    address: session.address,
    family: isIP(session.address) === 6 ? 'ipv6' : 'ipv4',
    ...(session.localAddress === undefined ? {} : { source: session.localAddress }),
    port: session.port,
    replies: session.replies,
    ...(session.tls === undefined
      ? {}
      : {
          tls: {
            version: session.tls.protocol,
            cipher: session.tls.cipher,
            verified: session.tls.authorized,
            ...(session.tls.authorizationError ? { error: session.tls.authorizationError } : {}),
          },
        }),
  };
}

/** Reads SMTP replies off a socket, one whole (multi-line) reply at a time. */
function replyReader(socket: Socket | TLSSocket): { next(timeoutMs: number): Promise<string>; detach(): void } {
  let buffer = '';
  const waiting: ((reply: string) => void)[] = [];
  const ready: string[] = [];
  const onData = (chunk: Buffer) => {
    buffer += chunk.toString('latin1');
    for (;;) {
      const match = /^(?:\d{3}-[^\r\n]*\r?\n)*\d{3}(?: [^\r\n]*)?\r?\n/.exec(buffer);
      if (match === null) break;
      buffer = buffer.slice(match[0].length);
      const reply = match[0].trimEnd();
      const waiter = waiting.shift();
      if (waiter) waiter(reply);
      else ready.push(reply);
    }
  };
  socket.on('data', onData);
  return {
    next(timeoutMs) {
      const early = ready.shift();
      if (early !== undefined) return Promise.resolve(early);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no reply in ${timeoutMs} ms`)), timeoutMs);
        waiting.push((reply) => {
          clearTimeout(timer);
          resolve(reply);
        });
      });
    },
    detach: () => socket.off('data', onData),
  };
}

/** Probes the first MX of `recipient`'s domain (see the file comment). */
export async function probeSession(options: {
  recipient: string;
  resolver: DeliveryResolver;
  hostname: string;
  port: number;
  source: { ipv4?: string; ipv6?: string | false };
  /** Extra CAs to trust (PEM), e.g. a test CA. */
  ca?: string[];
  timeoutMs?: number;
}): Promise<SessionProbe> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const domain = options.recipient.slice(options.recipient.lastIndexOf('@') + 1).toLowerCase();
  const probe: SessionProbe = { domain, mx: [], port: options.port, replies: [], probe: true };
  try {
    const route = await resolveMailRoute(domain, options.resolver);
    probe.mx = route.exchangers.map((exchanger) => exchanger.host);
    const host = route.exchangers[0]?.host;
    if (host === undefined) throw new Error(`${domain} accepts no mail (null MX)`);
    probe.host = host;
    const preference = options.source.ipv6 === false ? 'ipv4-only' : 'ipv6';
    const { addresses } = await resolveHostAddresses(host, options.resolver, { preference });
    const address = addresses[0];
    if (address === undefined) throw new Error(`${host} has no address`);
    probe.address = address;
    probe.family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    const source = probe.family === 'ipv6' ? options.source.ipv6 || undefined : options.source.ipv4;
    const plain = connectTcp({ host: address, port: options.port, ...(source ? { localAddress: source } : {}) });
    await new Promise<void>((resolve, reject) => {
      plain.once('connect', resolve);
      plain.once('error', reject);
      plain.setTimeout(timeoutMs, () => plain.destroy(new Error(`no connection in ${timeoutMs} ms`)));
    });
    probe.source = plain.localAddress;
    let reader = replyReader(plain);
    const say = async (socket: Socket | TLSSocket, command: string) => {
      if (command !== '(banner)') socket.write(`${command}\r\n`);
      const reply = await reader.next(timeoutMs);
      probe.replies.push({ command, reply });
      return reply;
    };
    await say(plain, '(banner)');
    const ehlo = await say(plain, `EHLO ${options.hostname}`);
    if (!/^250[ -]STARTTLS$/im.test(ehlo)) {
      await say(plain, 'QUIT');
      plain.destroy();
      return probe;
    }
    const started = await say(plain, 'STARTTLS');
    if (!started.startsWith('220')) {
      plain.destroy();
      return probe;
    }
    reader.detach();
    const secure = connectTls({
      socket: plain,
      servername: host,
      rejectUnauthorized: false,
      ...(options.ca ? { ca: options.ca } : {}),
    });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    probe.tls = {
      version: secure.getProtocol(),
      cipher: secure.getCipher().name,
      verified: secure.authorized,
      ...(secure.authorizationError ? { error: String(secure.authorizationError) } : {}),
    };
    reader = replyReader(secure);
    await say(secure, `EHLO ${options.hostname}`);
    await say(secure, 'QUIT');
    secure.destroy();
  } catch (error) {
    probe.error = error instanceof Error ? error.message : String(error);
  }
  return probe;
}
