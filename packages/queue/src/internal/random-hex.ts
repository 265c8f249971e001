import { randomFillSync } from 'node:crypto';

// Random octets for ids (messages, batches, leases) are drawn from a buffer refilled in bulk: one
// call into the CSPRNG per 4 KiB instead of one per id (each call costs about as much as the id's
// other work, and OpenSSL checks getpid(2) on each).
const pool = Buffer.alloc(4096);
let offset = pool.length;

/** `octets` random octets (from the CSPRNG) as lower-case hex. */
export function randomHex(octets: number): string {
  if (offset + octets > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + octets);
  offset += octets;
  return hex;
}
