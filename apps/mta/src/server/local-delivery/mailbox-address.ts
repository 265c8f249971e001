// The comparable form of an address for local delivery: the local part unquoted and lower-cased,
// the domain lower-cased in A-label form without a trailing dot. Recipient resolution compares
// these forms, and the Maildir store derives directory names from them.
import { domainToASCII } from 'node:url';

/** An address split into the parts local delivery compares. */
export interface AddressParts {
  /** The local part: a quoted string's content (quotes and backslashes removed), lower-cased. */
  local: string;
  /** The domain, lower-case A-labels, no trailing dot; '' for the bare `postmaster` (RFC 5321 4.5.1). */
  domain: string;
}

const NON_ASCII = /[^\x00-\x7f]/;

/** Lower case, A-labels (IDNA), trailing dot dropped: how our domains are written in the config. */
export function normaliseDomainName(domain: string): string {
  let name = domain.endsWith('.') ? domain.slice(0, -1) : domain;
  if (NON_ASCII.test(name)) {
    // domainToASCII gives '' for a name that is not valid IDNA; keep the lower-cased text then,
    // so that it simply matches none of our (valid) domains.
    const ascii = domainToASCII(name);
    name = ascii === '' ? name : ascii;
  }
  return name.toLowerCase();
}

/**
 * Splits `local@domain` (the local part possibly a quoted string, RFC 5321 4.1.2) at the `@`
 * that ends the local part. A quoted local part is compared as its content: `"Bob"@d` is `bob@d`
 * (RFC 5321 2.4 lets the receiver decide; Postfix, too, compares the unquoted form). Returns null
 * for text that is not an address (an unterminated quote, no `@` and not `postmaster`).
 */
export function splitAddress(address: string): AddressParts | null {
  let local: string;
  let rest: string;
  if (address.startsWith('"')) {
    let content = '';
    let i = 1;
    for (; i < address.length; i += 1) {
      const c = address[i] as string;
      if (c === '"') break;
      if (c === '\\' && i + 1 < address.length) {
        i += 1;
        content += address[i];
      } else content += c;
    }
    if (i >= address.length) return null;
    local = content;
    rest = address.slice(i + 1);
  } else {
    const at = address.lastIndexOf('@');
    local = at === -1 ? address : address.slice(0, at);
    rest = at === -1 ? '' : address.slice(at);
  }
  local = local.toLowerCase();
  if (rest === '') {
    // RFC 5321 4.5.1: `postmaster` without a domain is a valid recipient; nothing else is.
    return local === 'postmaster' ? { local, domain: '' } : null;
  }
  if (!rest.startsWith('@')) return null;
  return { local, domain: normaliseDomainName(rest.slice(1)) };
}

/** `local@domain` from its parts (the canonical mailbox form the queue holds). */
export function joinAddress(parts: AddressParts): string {
  return `${parts.local}@${parts.domain}`;
}
