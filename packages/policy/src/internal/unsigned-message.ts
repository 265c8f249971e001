// Most mail carries no DKIM-Signature and no ARC set (spam, mail from small hosts, test mail):
// for it, DKIM and ARC are `none` without verifying anything, and DMARC needs only the From
// domain. Reading that from the header is far cheaper than mailauth's full parse of the message.
// Anything this reader is not sure of (no header end in the first 64 KiB, encoded words,
// groups, several From fields or addresses) goes the full way.

const HEAD_LIMIT = 64 * 1024;
const SIGNATURE_FIELD = /^(?:dkim-signature|arc-seal|arc-message-signature|arc-authentication-results)[ \t]*:/im;
const SIMPLE_ADDRESS = /^[^\s<>@",;:()[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/;

/**
 * The From address of a message with no DKIM or ARC header fields, lower-cased, as `[address]`;
 * undefined when the message needs the full parse.
 */
export function unsignedHeaderFrom(message: Buffer | string): string[] | undefined {
  const head =
    typeof message === 'string' ? message.slice(0, HEAD_LIMIT) : message.subarray(0, HEAD_LIMIT).toString('latin1');
  const end = head.search(/\r?\n\r?\n/);
  if (end === -1) return undefined;
  const header = head.slice(0, end);
  if (SIGNATURE_FIELD.test(header)) return undefined;
  const fields = [...header.matchAll(/^from[ \t]*:(.*(?:\r?\n[ \t].*)*)/gim)];
  if (fields.length !== 1) return undefined;
  const value = (fields[0]?.[1] ?? '').replace(/\r?\n[ \t]/g, ' ').trim();
  if (value.includes('=?')) return undefined;
  let address: string | undefined;
  const angle = /^(?:"(?:[^"\\]|\\.)*"|[^"<>,;:@()]*)\s*<([^<>]*)>$/.exec(value);
  if (angle) address = angle[1]?.trim();
  else if (!/[<>,;"()]/.test(value)) address = value;
  if (address === undefined || !SIMPLE_ADDRESS.test(address)) return undefined;
  return [address.toLowerCase()];
}
