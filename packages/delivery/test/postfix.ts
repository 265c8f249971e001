import { execFile } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const postfixRoot = join(resolve(import.meta.dirname, '../../..'), '.cache/postfix');

/** A throw-away Postfix (the Debian binaries in .cache/postfix) whose smtpd listens on loopback. */
export interface PostfixServer {
  port: number;
  /** Messages Postfix accepted: every one is put on hold, so they stay in the queue to be read. */
  heldMessages(): Promise<string[]>;
  /** The mail log so far. */
  log(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((done) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => done(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * Starts Postfix with smtpd on 127.0.0.1 (ephemeral port). It takes mail for any domain from
 * loopback and holds it; `access` maps recipients to a refusal (e.g. `550 5.1.1 No such user`).
 * It runs without a postfix user (mail_owner nobody, setgid_group mail) but needs root to start.
 */
export async function startPostfix(
  options: { access?: Record<string, string>; tls?: { key: string; cert: string } } = {},
): Promise<PostfixServer> {
  const sbin = join(postfixRoot, 'usr/sbin');
  if (!existsSync(join(sbin, 'postfix'))) {
    throw new Error(`Postfix is missing at ${postfixRoot}: run \`bash .ci/install-peers.sh\``);
  }
  if (process.getuid?.() !== 0) throw new Error('the Postfix interop test needs root (Postfix starts as root)');
  const env = { ...process.env, LD_LIBRARY_PATH: join(postfixRoot, 'usr/lib/postfix') };
  const dir = mkdtempSync(join(tmpdir(), 'homing-delivery-postfix-'));
  chmodSync(dir, 0o755); // the daemons run as nobody and must reach the queue inside
  const etc = join(dir, 'etc');
  for (const sub of ['etc', 'queue', 'data']) mkdirSync(join(dir, sub));
  chownSync(join(dir, 'data'), 65534, 65534);
  const port = await freePort();
  const access = Object.entries(options.access ?? {})
    .map(([address, result]) => `{ ${address} = ${result} }`)
    .join(' ');
  const tls = options.tls;
  if (tls) {
    writeFileSync(join(etc, 'key.pem'), tls.key, { mode: 0o600 });
    writeFileSync(join(etc, 'cert.pem'), tls.cert);
  }
  writeFileSync(
    join(etc, 'main.cf'),
    [
      'compatibility_level = 3.6',
      `config_directory = ${etc}`,
      `queue_directory = ${dir}/queue`,
      `data_directory = ${dir}/data`,
      `daemon_directory = ${postfixRoot}/usr/lib/postfix/sbin`,
      `command_directory = ${sbin}`,
      `meta_directory = ${etc}`,
      `shlib_directory = ${postfixRoot}/usr/lib/postfix`,
      'mail_owner = nobody',
      'default_privs = daemon',
      'setgid_group = mail',
      `import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C LD_LIBRARY_PATH=${env.LD_LIBRARY_PATH}`,
      `maillog_file_prefixes = ${dir}`,
      `maillog_file = ${dir}/maillog`,
      'myhostname = postfix.example.net',
      'mydestination =',
      'inet_interfaces = 127.0.0.1',
      'inet_protocols = ipv4',
      'mynetworks = 127.0.0.0/8',
      `smtpd_recipient_restrictions = ${access ? `check_recipient_access inline:{ ${access} }, ` : ''}permit_mynetworks, reject`,
      'relayhost = [127.0.0.1]:9',
      'alias_maps =',
      'alias_database =',
      'local_recipient_maps =',
      `header_checks = regexp:${etc}/header_checks`,
      'smtputf8_enable = yes',
      ...(tls
        ? [`smtpd_tls_chain_files = ${etc}/key.pem, ${etc}/cert.pem`, 'smtpd_tls_security_level = may']
        : ['smtpd_tls_security_level = none']),
      'biff = no',
    ].join('\n') + '\n',
  );
  writeFileSync(join(etc, 'header_checks'), '/^/ HOLD\n');
  copyFileSync(join(postfixRoot, 'etc/postfix/postfix-files'), join(etc, 'postfix-files'));
  writeFileSync(
    join(etc, 'master.cf'),
    [
      `127.0.0.1:${port} inet n - n - - smtpd`,
      'pickup unix n - n 60 1 pickup',
      'cleanup unix n - n - 0 cleanup',
      'qmgr unix n - n 300 1 qmgr',
      'tlsmgr unix - - n 1000? 1 tlsmgr',
      'rewrite unix - - n - - trivial-rewrite',
      'bounce unix - - n - 0 bounce',
      'defer unix - - n - 0 bounce',
      'trace unix - - n - 0 bounce',
      'flush unix n - n 1000? 0 flush',
      'proxymap unix - - n - - proxymap',
      'smtp unix - - n - - smtp',
      'relay unix - - n - - smtp',
      'showq unix n - n - - showq',
      'error unix - - n - - error',
      'retry unix - - n - - error',
      'anvil unix - - n - 1 anvil',
      'scache unix - - n - 1 scache',
      'postlog unix-dgram n - n - 1 postlogd',
    ].join('\n') + '\n',
  );
  const command = (name: string, args: string[]) => run(join(sbin, name), ['-c', etc, ...args], { env });
  const log = () => {
    try {
      return readFileSync(join(dir, 'maillog'), 'utf8');
    } catch {
      return '';
    }
  };
  try {
    await command('postfix', ['start']);
  } catch (error) {
    const tail = log().split('\n').slice(-5).join('\n');
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`Postfix did not start (${(error as Error).message}): ${tail}`);
  }
  return {
    port,
    log,
    heldMessages: async () => {
      let ids: string[] = [];
      try {
        ids = readdirSync(join(dir, 'queue/hold'));
      } catch {}
      const messages: string[] = [];
      for (const id of ids) messages.push((await command('postcat', ['-bh', '-q', id])).stdout);
      return messages;
    },
    stop: async () => {
      await command('postfix', ['stop']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
