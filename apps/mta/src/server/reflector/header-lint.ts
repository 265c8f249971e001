// The RFC 5322 checks of the reflector on a message's header: exactly one From, a Message-ID, a
// Date that parses, and no field that may occur once occurring twice. Pure, over the header text.

/** One finding of the lint. */
export interface HeaderFinding {
  name: 'from' | 'message-id' | 'date' | 'duplicates';
  status: 'pass' | 'fail' | 'warn';
  message: string;
}

// RFC 5322 3.6: the fields whose "max number" is 1.
const SINGLE_INSTANCE = [
  'date',
  'from',
  'sender',
  'reply-to',
  'to',
  'cc',
  'bcc',
  'message-id',
  'in-reply-to',
  'references',
  'subject',
];

/** The header fields of a message head (up to the first empty line), unfolded, in order. */
export function headerFields(head: string): { name: string; value: string }[] {
  const end = head.search(/\r?\n\r?\n/);
  const text = end === -1 ? head : head.slice(0, end);
  const fields: { name: string; value: string }[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && fields.length > 0) {
      fields[fields.length - 1]!.value += ` ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    fields.push({ name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1).trim() });
  }
  return fields;
}

/** The lint's findings, one per check, in a fixed order. */
export function lintHeader(head: string): HeaderFinding[] {
  const fields = headerFields(head);
  const all = (name: string) => fields.filter((field) => field.name === name);
  const findings: HeaderFinding[] = [];

  const from = all('from');
  if (from.length !== 1) {
    findings.push({
      name: 'from',
      status: 'fail',
      message: `${from.length} From fields; RFC 5322 3.6 asks exactly one`,
    });
  } else {
    // RFC 5322 3.6.2: several authors need a Sender; one mailbox is what DMARC can evaluate.
    const addresses = from[0]!.value.match(/[^\s<>,;:"]+@[^\s<>,;:"]+/g) ?? [];
    findings.push(
      addresses.length === 1
        ? { name: 'from', status: 'pass', message: `one From: ${addresses[0]}` }
        : {
            name: 'from',
            status: addresses.length === 0 ? 'fail' : 'warn',
            message: `From holds ${addresses.length} addresses; one is what receivers (and DMARC) evaluate`,
          },
    );
  }

  const ids = all('message-id');
  findings.push(
    ids.length === 0
      ? {
          name: 'message-id',
          status: 'fail',
          message: 'no Message-ID; RFC 5322 3.6.4 says every message SHOULD have one',
        }
      : /^<[^<>@\s]+@[^<>@\s]+>$/.test(ids[0]!.value)
        ? { name: 'message-id', status: 'pass', message: `Message-ID ${ids[0]!.value}` }
        : {
            name: 'message-id',
            status: 'fail',
            message: `Message-ID ${ids[0]!.value} is not <left@right> (RFC 5322 3.6.4)`,
          },
  );

  const dates = all('date');
  findings.push(
    dates.length === 0
      ? { name: 'date', status: 'fail', message: 'no Date; RFC 5322 3.6 requires one' }
      : Number.isNaN(Date.parse(dates[0]!.value))
        ? { name: 'date', status: 'fail', message: `Date "${dates[0]!.value}" does not parse as an RFC 5322 date` }
        : { name: 'date', status: 'pass', message: `Date ${dates[0]!.value}` },
  );

  const repeated = SINGLE_INSTANCE.filter((name) => all(name).length > 1);
  findings.push(
    repeated.length === 0
      ? { name: 'duplicates', status: 'pass', message: 'no field that may occur once occurs twice' }
      : {
          name: 'duplicates',
          status: 'fail',
          message: `more than one ${repeated.join(', ')} (RFC 5322 3.6 allows one each)`,
        },
  );
  return findings;
}
