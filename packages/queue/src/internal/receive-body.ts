import { join } from 'node:path';
import type { BodyInput, EnvelopeInput } from '../queue';
import { QueueError } from '../queue-error';
import type { SpoolFile, SpoolFileSystem } from '../spool-file-system';
import { type GatheredBody, gatherBody } from './body-input';

const unsafeAddress = /[\r\n\0]/;

/** Turns a file-system failure into the error an SMTP server answers 451 4.3.0 to. */
export function storageError(error: unknown, what: string): QueueError {
  if (error instanceof QueueError) return error;
  const code = (error as { code?: string } | null)?.code;
  return new QueueError('STORAGE_UNAVAILABLE', `queue storage failed while ${what}${code ? ` (${code})` : ''}`, {
    cause: error,
  });
}

/** Checks an envelope: at least one recipient, no CR, LF or NUL that could forge a header or a line. */
export function checkEnvelope(envelope: EnvelopeInput): string[] {
  const recipients = [...envelope.recipients];
  if (recipients.length === 0) throw new QueueError('INVALID_ENVELOPE', 'a message needs at least one recipient');
  for (const address of [envelope.sender, ...recipients]) {
    if (typeof address !== 'string' || unsafeAddress.test(address)) {
      throw new QueueError('INVALID_ENVELOPE', `address ${JSON.stringify(address)} contains CR, LF or NUL`);
    }
  }
  return recipients;
}

/**
 * Receives a body for message `id`: in memory up to `inlineLimit`, past that into
 * `directory/<id>.spill`. A failing stream rejects BODY_FAILED, a failing disk
 * STORAGE_UNAVAILABLE; either way nothing is left behind.
 */
export async function receiveBody(
  fs: SpoolFileSystem,
  directory: string,
  id: string,
  prepend: Buffer,
  body: BodyInput,
  inlineLimit: number,
): Promise<GatheredBody> {
  const path = join(directory, `${id}.spill`);
  let spilled: SpoolFile | undefined;
  try {
    return await gatherBody(prepend, body, inlineLimit, async () => {
      try {
        spilled = await fs.open(path, 'w');
      } catch (error) {
        throw storageError(error, 'creating a message file');
      }
      const file = spilled;
      // Only the spill file's own failures are storage failures; the stream's are the body's.
      const write = async (data: Uint8Array, position?: number) => {
        try {
          await file.write(data, position);
        } catch (error) {
          throw storageError(error, 'writing a message body');
        }
      };
      return { file: { ...bind(file), write }, path };
    });
  } catch (error) {
    if (spilled !== undefined) {
      await spilled.close().catch(() => undefined);
      await fs.unlink(path).catch(() => undefined);
    }
    if (error instanceof QueueError) throw error;
    throw new QueueError('BODY_FAILED', 'the message body stream failed', { cause: error });
  }
}

function bind(file: SpoolFile): SpoolFile {
  return {
    write: (data, position) => file.write(data, position),
    read: (length, position) => file.read(length, position),
    sync: () => file.sync(),
    close: () => file.close(),
    size: () => file.size(),
  };
}
