// Where the server keeps its DKIM keys: `{state}/dkim/{domain}.{selector}.key`, the record to
// publish beside it as `.txt`. quickstart writes them, doctor and the outbound signer read them.
import { join } from 'node:path';

/** The selector quickstart uses and doctor checks when none is given. */
export const defaultSelector = 'homing';

/** The private key file of (domain, selector) under the state directory. */
export function dkimKeyPath(state: string, domain: string, selector: string): string {
  return join(state, 'dkim', `${domain}.${selector}.key`);
}

/** The `.txt` beside it: the zone-file line to publish. */
export function dkimRecordPath(state: string, domain: string, selector: string): string {
  return join(state, 'dkim', `${domain}.${selector}.txt`);
}
