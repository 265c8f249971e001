// Test messages DKIM-signed with the mailauth test key (test/fixtures/keys), and its DNS record.
import { readFileSync } from 'node:fs';
import { dkimSign } from 'mailauth';

const keyDir = new URL('../fixtures/keys/', import.meta.url);
const privateKey = readFileSync(new URL('private-rsa.pem', keyDir), 'utf8');
const publicKey = readFileSync(new URL('public-rsa.pem', keyDir), 'utf8');

/** The TXT record publishing the test key (RFC 6376 3.6.1). */
export const dkimRecord = `v=DKIM1; k=rsa; p=${publicKey.replace(/-----[^-]+-----|\s/g, '')}`;

/** A plain message from `from`, CRLF line ends, about `bodySize` bytes of body. */
export function plainMessage(from: string, bodySize = 200): string {
  const line = 'The quick brown fox jumps over the lazy dog, again and again and again.\r\n';
  const body = line.repeat(Math.max(1, Math.ceil(bodySize / line.length)));
  return `From: Sender <${from}>\r\nTo: rcpt@example.net\r\nSubject: test\r\nDate: Fri, 27 Nov 2026 20:00:00 +0000\r\nMessage-ID: <t@example>\r\n\r\n${body}`;
}

/** `message` with a DKIM-Signature by `domain` (selector "test") prepended. */
export async function signMessage(message: string, domain: string): Promise<string> {
  // mailauth's typings want the single-key shape; its code takes signatureData (the documented way).
  const options = {
    canonicalization: 'relaxed/relaxed',
    signatureData: [{ signingDomain: domain, selector: 'test', privateKey }],
  };
  const signed = await dkimSign(message, options as unknown as Parameters<typeof dkimSign>[1]);
  if (signed.errors.length > 0) throw new Error(String(signed.errors[0]));
  return signed.signatures + message;
}
