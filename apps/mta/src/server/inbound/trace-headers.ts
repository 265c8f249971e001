import type { FilterVerdict } from './filter-verdict';

/** What the Received header says about the hop (RFC 5321 4.4). */
export interface ReceivedInput {
  hostname: string;
  helo: string | undefined;
  /** The client's PTR name, when it has one. */
  host: string | undefined;
  ip: string;
  secure: boolean;
  authenticated: boolean;
  verb?: 'HELO' | 'EHLO';
  mode: 'DATA' | 'BDAT';
  id: string;
  /** The one recipient, when there is exactly one (RFC 5321 4.4: "for" only then, to leak nothing). */
  recipient?: string;
  date?: Date;
}

// Header text must stay one header: no CR, LF or other control characters from the client.
function clean(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]+/g, ' ').slice(0, 255);
}

/** RFC 5322 3.3 date-time, as a Received header ends with. */
export function rfc5322Date(date: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${days[date.getUTCDay()]}, ${date.getUTCDate()} ${months[date.getUTCMonth()]} ${date.getUTCFullYear()} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`
  );
}

/** The `Received:` header field of this hop, folded, without its final CRLF. */
export function receivedHeader(input: ReceivedInput): string {
  // RFC 3848: the with-protocol says ESMTP, ESMTPS (TLS), ESMTPA (AUTH) or ESMTPSA.
  const base = input.verb === 'HELO' ? 'SMTP' : 'ESMTP';
  const protocol = `${base}${input.secure ? 'S' : ''}${input.authenticated ? 'A' : ''}`;
  const literal = input.ip.includes(':') ? `IPv6:${input.ip}` : input.ip;
  const from = `${clean(input.helo || '[unknown]')} (${input.host ? `${clean(input.host)} ` : ''}[${literal}])`;
  const forPart = input.recipient ? `\r\n\tfor <${clean(input.recipient)}>` : '';
  return (
    `Received: from ${from}\r\n\tby ${input.hostname} (Homing) with ${protocol} id ${input.id}` +
    `${forPart};\r\n\t${rfc5322Date(input.date ?? new Date())}`
  );
}

/** The header that tells a user who finds a message in Junk which filter put it there, and why. */
export function junkHeader(verdict: FilterVerdict): string {
  return `X-Homing-Junk: ${verdict.filter}; ${clean(verdict.reason)}`;
}
