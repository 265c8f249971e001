import { execFile, execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './net';
import { POSTFIX_DIR, postfixEnv, postfixProgram } from './repo';

const run = promisify(execFile);

/** A throw-away Postfix (the Debian binaries in .cache/postfix) whose smtpd listens on loopback. */
export interface PostfixServer {
  /** Port of Postfix's smtpd on 127.0.0.1. */
  port: number;
  /** How many messages are in the hold queue. */
  held(): number;
  /** The held messages, as `postcat -bh` prints them. */
  heldMessages(): Promise<string[]>;
  /** Releases every held message and asks the queue manager to deliver them now. */
  releaseAll(): Promise<void>;
  /** Every message in any of Postfix's queues (hold, incoming, active, deferred), from `postqueue -j`. */
  queue(): Promise<QueuedMessage[]>;
  /** The mail log so far. */
  log(): string;
  stop(): Promise<void>;
}

/** One message in Postfix's queue, as `postqueue -j` describes it. */
export interface QueuedMessage {
  queue_name: string;
  queue_id: string;
  sender: string;
  message_size: number;
  recipients: { address: string; delay_reason?: string }[];
}

export interface PostfixOptions {
  /** Recipients smtpd refuses, with the reply, e.g. `{ 'gone@example.net': '550 5.1.1 No such user' }`. */
  access?: Record<string, string>;
  /** Key and certificate (PEM) for smtpd to offer STARTTLS with; without them it offers no TLS. */
  tls?: { key: string; cert: string };
  /** header_checks pattern of the messages cleanup puts on hold; default `/^/`, every message. */
  hold?: string;
  /** Port on 127.0.0.1 Postfix relays what it does not hold to; default 9 (nothing listens). */
  relayPort?: number;
  /** Connections (and smtp processes) Postfix uses to the relay at most; default Postfix's own. */
  concurrency?: number;
  /** Postfix's myhostname; default postfix.example.net. */
  hostname?: string;
  /**
   * Local delivery through local(8) instead of holding: mail for `domain` goes to the Maildir of
   * each local part (an alias to a path ending in `/`, written as `default_privs`, so the
   * directories must be writable by the daemon user). Nothing is held unless `hold` is given.
   */
  localDelivery?: { domain: string; maildirs: Record<string, string> };
  /**
   * More main.cf lines, after (so overriding) the ones above, e.g.
   * `smtpd_end_of_data_restrictions = check_policy_service inet:127.0.0.1:10040` or
   * `smtpd_discard_ehlo_keywords = chunking`.
   */
  mainCf?: string[];
}

/**
 * Starts Postfix with smtpd on 127.0.0.1 (ephemeral port). It takes mail for any domain from
 * loopback; what matches `hold` stays in the hold queue to be read or released, the rest is relayed
 * to 127.0.0.1:`relayPort`. It runs without a postfix user or postdrop group (mail_owner nobody,
 * setgid_group mail) but needs root to start. Fails loudly when Postfix is missing.
 */
export async function startPostfix(options: PostfixOptions = {}): Promise<PostfixServer> {
  const postfix = postfixProgram('postfix');
  if (process.getuid?.() !== 0) throw new Error('Postfix needs root to start (it drops to mail_owner itself)');
  const sbin = join(POSTFIX_DIR, 'usr/sbin');
  const env = postfixEnv();
  const dir = mkdtempSync(join(tmpdir(), 'homing-postfix-'));
  // mkdtemp makes the directory 0700: the Postfix daemons (as nobody) must reach the queue inside.
  chmodSync(dir, 0o755);
  const etc = join(dir, 'etc');
  for (const sub of ['etc', 'queue', 'data']) mkdirSync(join(dir, sub));
  chownSync(join(dir, 'data'), 65534, 65534);
  const port = await freePort();
  const access = Object.entries(options.access ?? {})
    .map(([address, result]) => `{ ${address} = ${result} }`)
    .join(' ');
  const { tls, concurrency } = options;
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
      `daemon_directory = ${POSTFIX_DIR}/usr/lib/postfix/sbin`,
      `command_directory = ${sbin}`,
      `meta_directory = ${etc}`,
      `shlib_directory = ${POSTFIX_DIR}/usr/lib/postfix`,
      'mail_owner = nobody',
      'default_privs = daemon',
      'setgid_group = mail',
      `import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C LD_LIBRARY_PATH=${env.LD_LIBRARY_PATH}`,
      `maillog_file_prefixes = ${dir}`,
      `maillog_file = ${dir}/maillog`,
      `myhostname = ${options.hostname ?? 'postfix.example.net'}`,
      `mydestination = ${options.localDelivery?.domain ?? ''}`,
      'inet_interfaces = 127.0.0.1',
      'inet_protocols = ipv4',
      'mynetworks = 127.0.0.0/8',
      `smtpd_recipient_restrictions = ${access ? `check_recipient_access inline:{ ${access} }, ` : ''}permit_mynetworks, reject`,
      `relayhost = [127.0.0.1]:${options.relayPort ?? 9}`,
      options.localDelivery
        ? `alias_maps = inline:{ ${Object.entries(options.localDelivery.maildirs)
            .map(([local, path]) => `{ ${local} = ${path.endsWith('/') ? path : `${path}/`} }`)
            .join(' ')} }`
        : 'alias_maps =',
      'alias_database =',
      'local_recipient_maps =',
      `header_checks = regexp:${etc}/header_checks`,
      'smtputf8_enable = yes',
      'smtp_tls_security_level = none',
      ...(tls
        ? [`smtpd_tls_chain_files = ${etc}/key.pem, ${etc}/cert.pem`, 'smtpd_tls_security_level = may']
        : ['smtpd_tls_security_level = none']),
      ...(concurrency === undefined
        ? []
        : [
            `default_destination_concurrency_limit = ${concurrency}`,
            `smtp_destination_concurrency_limit = ${concurrency}`,
            `initial_destination_concurrency = ${concurrency}`,
            `default_process_limit = ${concurrency * 5}`,
          ]),
      'biff = no',
      ...(options.mainCf ?? []),
    ].join('\n') + '\n',
  );
  const hold = options.hold ?? (options.localDelivery ? undefined : '/^/');
  writeFileSync(join(etc, 'header_checks'), hold === undefined ? '' : `${hold} HOLD\n`);
  // post-install (run by `postfix start`) reads the list of files it creates from meta_directory.
  copyFileSync(join(POSTFIX_DIR, 'etc/postfix/postfix-files'), join(etc, 'postfix-files'));
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
      'verify unix - - n - 1 verify',
      'flush unix n - n 1000? 0 flush',
      'proxymap unix - - n - - proxymap',
      'smtp unix - - n - - smtp',
      'local unix - n n - - local',
      'relay unix - - n - - smtp',
      'showq unix n - n - - showq',
      'error unix - - n - - error',
      'retry unix - - n - - error',
      'discard unix - - n - - discard',
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
  // If this process dies before stop(), do not leave a Postfix master running.
  const stopNow = () => {
    try {
      execFileSync(postfix, ['-c', etc, 'stop'], { env, stdio: 'ignore' });
    } catch {}
  };
  process.once('exit', stopNow);
  const holdQueue = () => {
    try {
      return readdirSync(join(dir, 'queue/hold'));
    } catch {
      return [];
    }
  };
  return {
    port,
    log,
    held: () => holdQueue().length,
    queue: async () => {
      const { stdout } = await command('postqueue', ['-j']);
      return stdout
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as QueuedMessage);
    },
    heldMessages: async () => {
      const messages: string[] = [];
      for (const id of holdQueue()) messages.push((await command('postcat', ['-bh', '-q', id])).stdout);
      return messages;
    },
    releaseAll: async () => {
      await command('postsuper', ['-H', 'ALL']);
      await command('postqueue', ['-f']);
    },
    stop: async () => {
      process.off('exit', stopNow);
      await command('postfix', ['stop']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
