// dkimpy (Debian python3-dkim, the module behind dkimverify) as a verifier for tests and benches,
// through @homing/dkim's driver script (packages/dkim/test/dkimpy-verify.py, owned by its
// cross-verification tests), asking only the loopback DNS server it is given.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './repo';

const DRIVER = join(REPO_ROOT, 'packages/dkim/test/dkimpy-verify.py');

/** What dkimpy says of one DKIM-Signature of a message (the `index`th, first by default). */
export interface DkimpyVerdict {
  ok: boolean;
  error: string | null;
}

/** Verifies a message's `index`th DKIM-Signature with dkimpy, keys from the DNS server at `dns` (host:port). */
export async function dkimpyVerify(dns: string, message: string, index = 0): Promise<DkimpyVerdict> {
  const input = JSON.stringify({ server: dns, messages: [[Buffer.from(message, 'latin1').toString('base64'), index]] });
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn('/usr/bin/python3', [DRIVER], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      out += text;
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      err += text;
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0
        ? resolve(out)
        : reject(new Error(`dkimpy (python3-dkim; \`bash .ci/install-peers.sh\`) exited ${code}: ${err}`)),
    );
    child.stdin.end(input);
  });
  return (JSON.parse(output) as DkimpyVerdict[])[0]!;
}
