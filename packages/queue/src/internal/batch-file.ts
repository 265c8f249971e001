import { crc32 } from 'node:zlib';
import type { SpoolFile } from '../spool-file-system';

/**
 * A batch file holds the bodies of one commit, one after another, then a trailer (the
 * envelopes with each body's offset, length and CRC-32) and a fixed footer:
 * magic "HQB1", trailer length (u32 BE), CRC-32 of the trailer (u32 BE), magic "HQB1".
 * The footer lets recovery read every envelope without reading a body.
 */
export interface StoredMessage {
  id: string;
  sender: string;
  recipients: string[];
  attributes: Record<string, string>;
  createdAt: number;
  /** Acceptance order, monotonic across restarts (0 for a message stored before sequences existed). */
  seq: number;
  /**
   * 1 for a follow-up of a settle (a bounce, a delay notice): it exists only once the journal
   * record of that settle, which names it, is durable (all or nothing with the outcomes).
   */
  c?: 1;
  offset: number;
  length: number;
  crc: number;
}

const magic = Buffer.from('HQB1', 'latin1');
const footerBytes = 16;
const maxTrailerBytes = 64 * 1024 * 1024;

/** The trailer and footer that close a batch file. */
export function encodeTrailer(messages: readonly StoredMessage[]): Buffer {
  const trailer = Buffer.from(JSON.stringify({ v: 1, messages }), 'utf8');
  const footer = Buffer.alloc(footerBytes);
  magic.copy(footer, 0);
  footer.writeUInt32BE(trailer.byteLength, 4);
  footer.writeUInt32BE(crc32(trailer), 8);
  magic.copy(footer, 12);
  return Buffer.concat([trailer, footer]);
}

/** Reads the envelopes of a batch file; throws an Error saying what is wrong when damaged. */
export async function readTrailer(file: SpoolFile): Promise<StoredMessage[]> {
  const size = await file.size();
  if (size < footerBytes) throw new Error(`too short for a batch file (${size} bytes)`);
  const footer = await file.read(footerBytes, size - footerBytes);
  if (!footer.subarray(0, 4).equals(magic) || !footer.subarray(12, 16).equals(magic)) {
    throw new Error('batch footer missing');
  }
  const length = footer.readUInt32BE(4);
  if (length > maxTrailerBytes || length > size - footerBytes) throw new Error('batch trailer length out of range');
  const trailer = await file.read(length, size - footerBytes - length);
  if (crc32(trailer) !== footer.readUInt32BE(8)) throw new Error('batch trailer checksum mismatch');
  const parsed = JSON.parse(trailer.toString('utf8')) as { v?: number; messages?: StoredMessage[] };
  if (parsed.v !== 1 || !Array.isArray(parsed.messages)) throw new Error('batch trailer of an unknown version');
  const bodyEnd = size - footerBytes - length;
  for (const message of parsed.messages) {
    if (
      typeof message.id !== 'string' ||
      !Array.isArray(message.recipients) ||
      message.offset < 0 ||
      message.offset + message.length > bodyEnd
    ) {
      throw new Error('batch trailer entry out of range');
    }
    // Written before sequences existed: ordered after nothing, by creation time (recovery's sort).
    if (typeof message.seq !== 'number') message.seq = 0;
  }
  return parsed.messages;
}
