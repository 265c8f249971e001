// Domain and selector checks: both end up in a DNS name (RFC 6376 3.6.2.1: selector._domainkey.domain).
import { domainToASCII } from 'node:url';
import { DkimError } from '../dkim-error';

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/i;

/** The domain in A-label form (IDNs converted), or a DkimError saying what is wrong. */
export function normalizeDomain(domain: string): string {
  const trimmed = typeof domain === 'string' ? domain.trim().replace(/\.$/, '') : '';
  const ascii = /^[\x00-\x7f]*$/.test(trimmed) ? trimmed.toLowerCase() : domainToASCII(trimmed);
  const labels = ascii.split('.');
  if (!ascii || ascii.length > 253 || labels.length < 2 || !labels.every((label) => LABEL.test(label))) {
    throw new DkimError('INVALID_DOMAIN', `"${domain}" is not a valid domain name (expected e.g. example.com)`);
  }
  return ascii;
}

/** The selector, checked: one or more DNS labels (RFC 6376 3.1). */
export function normalizeSelector(selector: string): string {
  const trimmed = typeof selector === 'string' ? selector.trim().toLowerCase() : '';
  const labels = trimmed.split('.');
  if (!trimmed || trimmed.length > 63 * 4 || !labels.every((label) => LABEL.test(label))) {
    throw new DkimError(
      'INVALID_SELECTOR',
      `"${selector}" is not a valid selector: use letters, digits and hyphens (e.g. mail2026)`,
    );
  }
  return trimmed;
}

/** The name the key is published at (RFC 6376 3.6.2.1). */
export function keyRecordName(selector: string, domain: string): string {
  const name = `${selector}._domainkey.${domain}`;
  if (name.length > 253) {
    throw new DkimError('INVALID_SELECTOR', `${name} is longer than the 253 characters a DNS name may have`);
  }
  return name;
}
