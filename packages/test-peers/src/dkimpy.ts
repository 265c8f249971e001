// dkimpy (Debian python3-dkim, the module behind dkimverify) as a verifier for tests and benches,
// through @homing/dkim's driver script (packages/dkim/test/dkimpy-verify.py, owned by its
// cross-verification tests), asking only the loopback DNS server it is given.

import { join } from 'node:path';
import { REPO_ROOT } from './repo';
import { runWithInput } from './run-with-input';

const DRIVER = join(REPO_ROOT, 'packages/dkim/test/dkimpy-verify.py');

/** What dkimpy says of one DKIM-Signature of a message (the `index`th, first by default). */
export interface DkimpyVerdict {
  ok: boolean;
  error: string | null;
}

/** Verifies a message's `index`th DKIM-Signature with dkimpy, keys from the DNS server at `dns` (host:port). */
export async function dkimpyVerify(dns: string, message: string, index = 0): Promise<DkimpyVerdict> {
  const input = JSON.stringify({ server: dns, messages: [[Buffer.from(message, 'latin1').toString('base64'), index]] });
  const output = await runWithInput(
    '/usr/bin/python3',
    [DRIVER],
    input,
    ' (dkimpy: python3-dkim; `bash .ci/install-peers.sh`)',
  );
  return (JSON.parse(output) as DkimpyVerdict[])[0]!;
}
