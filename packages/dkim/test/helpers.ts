// Test helpers: a plain reference canonicalizer (whole-buffer regexes, written straight from
// RFC 6376 3.4.3/3.4.4) and ways to feed the streaming one.
import { type BodyCanonicalization, BodyCanonicalizer } from '../src/internal/body-canonicalizer';

export function referenceBody(bytes: Buffer, mode: BodyCanonicalization): Buffer {
  const text = bytes.toString('latin1').replace(/\r?\n/g, '\r\n');
  if (mode === 'simple') return Buffer.from(`${text.replace(/(\r\n)*$/, '')}\r\n`, 'latin1');
  const lines = text.split('\r\n').map((line) => line.replace(/[ \t]+/g, ' ').replace(/ $/, ''));
  const joined = lines.join('\r\n').replace(/(\r\n)*$/, '');
  return Buffer.from(joined === '' ? '' : `${joined}\r\n`, 'latin1');
}

/** Runs the streaming canonicalizer over `chunks` and returns everything it emitted. */
export function canonicalizeInChunks(chunks: readonly Buffer[], mode: BodyCanonicalization): Buffer {
  const out: Buffer[] = [];
  const canonicalizer = new BodyCanonicalizer(mode, (bytes) => out.push(Buffer.from(bytes)));
  for (const chunk of chunks) canonicalizer.write(chunk);
  canonicalizer.end();
  return Buffer.concat(out);
}

/** Cuts `bytes` at the given offsets (sorted, deduplicated, in range). */
export function splitAt(bytes: Buffer, offsets: readonly number[]): Buffer[] {
  const cuts = [...new Set(offsets.map((o) => Math.min(Math.max(o, 0), bytes.length)))].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let start = 0;
  for (const cut of cuts) {
    parts.push(bytes.subarray(start, cut));
    start = cut;
  }
  parts.push(bytes.subarray(start));
  return parts;
}

export function byteByByte(bytes: Buffer): Buffer[] {
  return [...bytes].map((byte) => Buffer.from([byte]));
}
