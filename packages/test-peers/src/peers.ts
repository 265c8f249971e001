// Which real peers a test suite needs, and what happens when one is missing (issue 18 item 6):
// where `.ci/install-peers.sh` can install it (CI=true, or root on Debian) a missing peer fails
// the suite loudly; anywhere else (macOS, a non-root account) the suite is skipped and says which
// peer is missing and how to install it, so that `npm test` runs everything else.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { SMTP_SINK } from './repo';

/** A program or library a suite talks to, how to tell it is there, and how to get it. */
export interface Peer {
  name: string;
  present(): boolean;
  /** How to install it, for the message. */
  install: string;
}

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function python(module: string): boolean {
  return spawnSync('python3', ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0;
}

const onDebian = 'on Debian: `sudo bash .ci/install-peers.sh`';

/** The peers the suites use, by name. */
export const PEERS = {
  postfix: {
    name: "Postfix's smtp-sink, smtp-source and smtpd (.cache/postfix)",
    present: () => existsSync(SMTP_SINK),
    install: `${onDebian} (it unpacks the postfix .deb into .cache/postfix)`,
  },
  postfixServer: {
    name: 'a Postfix smtpd of its own (.cache/postfix, started as root)',
    present: () => existsSync(SMTP_SINK) && process.getuid?.() === 0,
    install: `${onDebian}, and run the tests as root (Postfix starts as root and drops to its own user)`,
  },
  swaks: { name: 'swaks', present: () => onPath('swaks'), install: `${onDebian}, or \`brew install swaks\`` },
  openssl: { name: 'openssl', present: () => onPath('openssl'), install: `${onDebian}, or \`brew install openssl\`` },
  python3: { name: 'python3', present: () => onPath('python3'), install: `${onDebian}, or your system's python3` },
  dkimpy: {
    name: "dkimpy's dkimverify (python3-dkim)",
    present: () => onPath('dkimverify'),
    install: `${onDebian}, or \`pip install dkimpy\``,
  },
  pyspf: {
    name: 'pyspf (python3-spf)',
    present: () => python('spf'),
    install: `${onDebian}, or \`pip install pyspf dnspython\``,
  },
  nsd: {
    name: 'NSD',
    present: () => onPath('nsd') || existsSync('/usr/sbin/nsd'),
    install: `${onDebian}, or \`brew install nsd\``,
  },
  dovecot: {
    name: 'Dovecot (dovecot-core)',
    present: () => onPath('doveadm') || existsSync('/usr/bin/doveadm'),
    install: `${onDebian}, or \`brew install dovecot\``,
  },
} satisfies Record<string, Peer>;

/** A peer of `PEERS`, by name. */
export type PeerName = keyof typeof PEERS;

/** Where the check runs: the environment, whether as root, whether on Debian. */
export interface PeerPolicyContext {
  env?: NodeJS.ProcessEnv;
  root?: boolean;
  debian?: boolean;
}

/** True where a missing peer must fail: in CI (`CI=true`), and as root on Debian, where install-peers.sh works. */
export function missingPeerFails(context: PeerPolicyContext = {}): boolean {
  const env = context.env ?? process.env;
  const root = context.root ?? process.getuid?.() === 0;
  const debian = context.debian ?? existsSync('/etc/debian_version');
  return env.CI === 'true' || (root && debian);
}

/**
 * For `describe.skipIf(skipWithoutPeers('postfix'))(...)`: false when every peer is there; when
 * one is missing, true after saying on stderr which and how to install it, or, where a missing
 * peer must fail (see `missingPeerFails`), an error that names it.
 */
export function skipWithoutPeers(...peers: (PeerName | Peer)[]): boolean {
  return skipWithoutPeersIn({}, ...peers);
}

/** `skipWithoutPeers` with the context given (for its own tests). */
export function skipWithoutPeersIn(context: PeerPolicyContext, ...peers: (PeerName | Peer)[]): boolean {
  const missing = peers
    .map((peer) => (typeof peer === 'string' ? PEERS[peer] : peer))
    .filter((peer) => !peer.present());
  if (missing.length === 0) return false;
  const what = missing.map((peer) => `${peer.name} (install it ${peer.install})`).join('; ');
  if (missingPeerFails(context)) {
    throw new Error(`a test peer is missing: ${what}. CI and root on Debian run every interop suite.`);
  }
  process.stderr.write(`skipped: this suite needs ${what}\n`);
  return true;
}
