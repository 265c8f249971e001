// Runs the real fail2ban-regex (Debian package fail2ban) with contrib/fail2ban's filter over a log
// file, for this folder's test and for the end-to-end test that feeds it the server's own output.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '@homing/test-peers';

const run = promisify(execFile);

/** contrib/fail2ban in the repository. */
export const FAIL2BAN_CONTRIB = join(REPO_ROOT, 'contrib/fail2ban');
/** The filter; it includes nothing, so fail2ban-regex reads it where it is. */
export const FAIL2BAN_FILTER = join(FAIL2BAN_CONTRIB, 'filter.d/homing.conf');

/** The fail2ban-regex program, or undefined when the fail2ban package is not installed. */
export function findFail2banRegex(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'fail2ban-regex');
    if (dir !== '' && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Why fail2ban tests cannot run here, or undefined when they can. In CI a missing fail2ban is a failure. */
export function fail2banMissing(): string | undefined {
  if (findFail2banRegex() !== undefined) return undefined;
  const reason = 'fail2ban-regex not found: apt-get install -y fail2ban (bash .ci/install-peers.sh)';
  if (process.env.CI === 'true') throw new Error(`CI=true and ${reason}`);
  return reason;
}

/** What fail2ban-regex found in a log file. */
export interface Fail2banResult {
  lines: number;
  matched: number;
  missed: number;
  /** The address of each matched line, in order. */
  addresses: string[];
}

/** Runs fail2ban-regex with contrib/fail2ban/filter.d/homing.conf over `logFile`. */
export async function runFail2banRegex(logFile: string): Promise<Fail2banResult> {
  const program = findFail2banRegex();
  if (program === undefined) throw new Error('fail2ban-regex is not installed');
  const summary = await run(program, [logFile, FAIL2BAN_FILTER], { maxBuffer: 64 << 20 });
  const counts = /^Lines: (\d+) lines, \d+ ignored, (\d+) matched, (\d+) missed/m.exec(summary.stdout);
  if (counts === null) throw new Error(`fail2ban-regex printed no summary:\n${summary.stdout}\n${summary.stderr}`);
  const ips = await run(program, ['-o', 'ip', logFile, FAIL2BAN_FILTER], { maxBuffer: 64 << 20 });
  return {
    lines: Number(counts[1]),
    matched: Number(counts[2]),
    missed: Number(counts[3]),
    addresses: ips.stdout.split('\n').filter((line) => line !== ''),
  };
}

/** A setting of the [homing] jail in contrib/fail2ban/jail.d/homing.conf. */
export async function jailSetting(name: string): Promise<string> {
  const text = await readFile(join(FAIL2BAN_CONTRIB, 'jail.d/homing.conf'), 'utf8');
  const match = new RegExp(`^${name}\\s*=\\s*(\\S+)`, 'm').exec(text);
  if (match === null) throw new Error(`no ${name} in the homing jail`);
  return match[1]!;
}

/** The addresses the jail bans: those with at least `maxretry` matches (the test's lines fall within findtime). */
export function bannedAddresses(addresses: readonly string[], maxretry: number): string[] {
  const counts = new Map<string, number>();
  for (const address of addresses) counts.set(address, (counts.get(address) ?? 0) + 1);
  return [...counts]
    .filter(([, count]) => count >= maxretry)
    .map(([address]) => address)
    .sort();
}
