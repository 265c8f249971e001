import { crc32 } from 'node:zlib';
import type { BodyInput } from '../queue';
import type { SpoolFile } from '../spool-file-system';

/** A body gathered for commit: in memory (small), or already streamed into its own temporary file. */
export type GatheredBody =
  | { kind: 'inline'; data: Buffer; crc: number }
  | { kind: 'spilled'; file: SpoolFile; path: string; length: number; crc: number };

function toBuffer(chunk: Buffer | Uint8Array | string): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/**
 * Reads the body (after the prepended headers) keeping at most `inlineLimit` bytes in memory;
 * past that it streams into a file from `spill()` so memory does not grow with message size.
 */
export async function gatherBody(
  prepend: Buffer,
  body: BodyInput,
  inlineLimit: number,
  spill: () => Promise<{ file: SpoolFile; path: string }>,
): Promise<GatheredBody> {
  const chunks: Buffer[] = prepend.byteLength > 0 ? [prepend] : [];
  let inMemory = prepend.byteLength;
  let crc = crc32(prepend);
  let spilled: { file: SpoolFile; path: string; length: number } | undefined;
  const add = async (chunk: Buffer) => {
    if (chunk.byteLength === 0) return;
    crc = crc32(chunk, crc);
    if (spilled !== undefined) {
      await spilled.file.write(chunk);
      spilled.length += chunk.byteLength;
      return;
    }
    chunks.push(chunk);
    inMemory += chunk.byteLength;
    if (inMemory > inlineLimit) {
      const target = await spill();
      spilled = { ...target, length: 0 };
      const data = Buffer.concat(chunks);
      chunks.length = 0;
      await spilled.file.write(data);
      spilled.length = data.byteLength;
    }
  };
  if (Buffer.isBuffer(body) || body instanceof Uint8Array) {
    await add(toBuffer(body));
  } else {
    for await (const chunk of body) await add(toBuffer(chunk));
  }
  if (spilled !== undefined) return { kind: 'spilled', ...spilled, crc };
  return { kind: 'inline', data: Buffer.concat(chunks), crc };
}
