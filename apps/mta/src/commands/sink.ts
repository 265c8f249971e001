import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { createServer } from '@homing/smtp/server';
import type { Command } from 'commander';
import { wholeNumber } from '../command-arguments';
import { describeError, usageError } from '../command-error';

interface SinkOptions {
  listen: string;
  hostname: string;
  maxSize: number;
  maxConnections: number;
  tlsKey?: string;
  tlsCert?: string;
  interval: number;
}

/** Splits `HOST:PORT` (IPv6 as `[::1]:2525`). */
export function parseListen(value: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):([0-9]{1,5})$/.exec(value);
  const port = match ? Number(match[3]) : -1;
  if (match === null || port > 65535) {
    throw usageError(`--listen must be HOST:PORT, e.g. 127.0.0.1:2525 (got "${value}")`);
  }
  return { host: match[1] ?? match[2]!, port };
}

/** `homing sink`: accept any message, count it, discard it (like Postfix's smtp-sink). */
export function registerSinkCommand(program: Command): void {
  program
    .command('sink')
    .description('Receive mail over SMTP, count it and throw it away; prints one summary line per second')
    .requiredOption('--listen <host:port>', 'address to listen on, e.g. 127.0.0.1:2525 (port 0 picks one)')
    .option('--hostname <name>', 'name in the greeting and EHLO reply', 'sink.localhost')
    .option('--max-size <octets>', 'largest message accepted (SIZE), 0 for no limit', wholeNumber('--max-size'), 0)
    .option(
      '--max-connections <n>',
      'connections at once (also per client address)',
      // 0 would refuse every client, so it is refused here instead.
      wholeNumber('--max-connections', 1),
      1000,
    )
    .option('--tls-key <file>', 'PEM private key: offers STARTTLS (with --tls-cert)')
    .option('--tls-cert <file>', 'PEM certificate chain: offers STARTTLS (with --tls-key)')
    // 0 would make the summary timer fire in a busy loop.
    .option('--interval <seconds>', 'seconds between summary lines', wholeNumber('--interval', 1), 1)
    .action(async (options: SinkOptions) => {
      const { host, port } = parseListen(options.listen);
      if ((options.tlsKey === undefined) !== (options.tlsCert === undefined)) {
        throw usageError('--tls-key and --tls-cert go together; give both or neither');
      }
      let tls: { key: Buffer; cert: Buffer } | undefined;
      if (options.tlsKey !== undefined && options.tlsCert !== undefined) {
        try {
          tls = { key: readFileSync(options.tlsKey), cert: readFileSync(options.tlsCert) };
        } catch (error) {
          throw new Error(`cannot read the TLS key or certificate: ${describeError(error).message}`);
        }
        checkTlsFiles(tls, options.tlsKey, options.tlsCert);
      }
      const server = createServer({
        hostname: options.hostname,
        ...(tls ? { tls } : {}),
        limits: {
          maxMessageSize: options.maxSize,
          maxConnections: options.maxConnections,
          maxConnectionsPerIp: options.maxConnections,
          maxRecipients: 10_000,
        },
      });
      let address: { host: string; port: number };
      try {
        address = await server.listen({ host, port });
      } catch (error) {
        throw new Error(
          `cannot listen on ${options.listen}: ${describeError((error as Error).cause ?? error).message}`,
        );
      }
      const shown = address.host.includes(':')
        ? `[${address.host}]:${address.port}`
        : `${address.host}:${address.port}`;
      process.stdout.write(`${timestamp()} sink listening address=${shown}\n`);
      let last = server.stats();
      let lastTime = Date.now();
      const report = () => {
        const now = Date.now();
        const stats = server.stats();
        const rate = Math.round(((stats.messages - last.messages) * 1000) / Math.max(1, now - lastTime));
        process.stdout.write(
          `${timestamp()} sink messages=${stats.messages} rate=${rate}/s connections=${stats.connections} bytes=${stats.bytes}\n`,
        );
        last = stats;
        lastTime = now;
      };
      const timer = setInterval(report, options.interval * 1000);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      clearInterval(timer);
      await server.close({ timeoutMs: 2000 });
      report();
    });
}

/** Says which file is wrong, in words, rather than OpenSSL's `error:0480006C:PEM routines::no start line`. */
function checkTlsFiles(tls: { key: Buffer; cert: Buffer }, keyFile: string, certFile: string): void {
  try {
    createSecureContext({ key: tls.key });
  } catch {
    throw usageError(`--tls-key ${keyFile}: the file is not a PEM private key (no "-----BEGIN ... PRIVATE KEY-----")`);
  }
  try {
    createSecureContext({ cert: tls.cert });
  } catch {
    throw usageError(`--tls-cert ${certFile}: the file is not a PEM certificate (no "-----BEGIN CERTIFICATE-----")`);
  }
  try {
    createSecureContext(tls);
  } catch (error) {
    throw usageError(`--tls-key ${keyFile} and --tls-cert ${certFile}: ${describeError(error).message}`);
  }
}

function timestamp(): string {
  return `${new Date().toISOString().slice(0, 19)}Z`;
}
