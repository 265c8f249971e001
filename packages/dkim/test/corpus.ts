// Messages for the cross-verification and canonicalization comparison tests, in SMTP wire form (CRLF).
// Each exercises something canonicalization can get wrong.

const crlf = (lines: string[]) => lines.join('\r\n');
const longWord = (n: number) => Array.from({ length: n }, (_, i) => `word${i}`).join(' ');

const baseHeaders = [
  'From: Alice Example <alice@example.com>',
  'To: Bob <bob@example.net>',
  'Subject: Hello',
  'Date: Fri, 27 Nov 2026 21:00:00 +0000',
  'Message-ID: <corpus-1@example.com>',
];

/** name → message bytes (latin1 for 8-bit, UTF-8 encoded for SMTPUTF8). */
export const corpus: { name: string; message: Buffer }[] = [
  {
    name: 'plain text',
    message: Buffer.from(crlf([...baseHeaders, '', 'Hi Bob,', '', 'See you tomorrow.', '', 'Alice', ''])),
  },
  {
    name: 'odd whitespace in headers and body',
    message: Buffer.from(
      crlf([
        'From:   Alice  Example\t<alice@example.com>  ',
        'To:\tBob <bob@example.net>',
        'Subject:  spaced   out\t\tsubject ',
        'X-Folded:\tvalue  \r\n\t  continued\t \r\n  end  ',
        'Date: Fri, 27 Nov 2026 21:00:00 +0000',
        'X-Empty:',
        '',
        '  leading spaces',
        'trailing spaces   ',
        'tabs\tin\t\tthe  middle\t',
        ' \t ',
        '',
        'last line',
        '',
        '',
        '',
      ]),
    ),
  },
  {
    name: 'long folded headers',
    message: Buffer.from(
      crlf([
        'From: Alice Example <alice@example.com>',
        `To: ${Array.from({ length: 12 }, (_, i) => `Recipient ${i} <r${i}@example.net>`).join(',\r\n\t')}`,
        `Subject: ${longWord(20)}\r\n ${longWord(20)}\r\n\t  ${longWord(10)}`,
        'Date: Fri, 27 Nov 2026 21:00:00 +0000',
        `References: ${Array.from({ length: 20 }, (_, i) => `<ref-${i}@example.com>`).join('\r\n ')}`,
        'Received: from a by b; Fri, 27 Nov 2026 21:00:00 +0000',
        'Received: from c by d; Fri, 27 Nov 2026 21:00:01 +0000',
        '',
        longWord(300),
        '',
      ]),
    ),
  },
  { name: 'empty body', message: Buffer.from(crlf([...baseHeaders, '', ''])) },
  { name: 'body of empty lines only', message: Buffer.from(crlf([...baseHeaders, '', '', '', '', ''])) },
  {
    name: 'body without a final CRLF',
    message: Buffer.from(crlf([...baseHeaders, '', 'first line', 'no newline at the end'])),
  },
  {
    name: '8-bit body',
    message: Buffer.from(
      crlf([
        ...baseHeaders,
        'MIME-Version: 1.0',
        'Content-Type: text/plain; charset=iso-8859-1',
        'Content-Transfer-Encoding: 8bit',
        '',
        'Caf\xe9 cr\xe8me br\xfbl\xe9e, \xbfqu\xe9 tal?',
        '\xff\xfe\x80 bytes',
        '',
      ]),
      'latin1',
    ),
  },
  {
    name: 'SMTPUTF8 headers and body',
    message: Buffer.from(
      crlf([
        'From: Jörg Müller <jörg@exämple.com>',
        'To: 山田 <山田@例え.jp>',
        'Subject: Grüße aus Köln ☃ – naïve café',
        'Date: Fri, 27 Nov 2026 21:00:00 +0000',
        'MIME-Version: 1.0',
        'Content-Type: text/plain; charset=utf-8',
        'Content-Transfer-Encoding: 8bit',
        '',
        'Ünïcödé  body\t ☃ 😀',
        'Привет, мир',
        '',
      ]),
      'utf8',
    ),
  },
  {
    name: 'multipart with boundaries and base64',
    message: Buffer.from(
      crlf([
        ...baseHeaders,
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary="b1"',
        '',
        '--b1',
        'Content-Type: text/plain',
        '',
        'text part  ',
        '--b1',
        'Content-Type: application/octet-stream',
        'Content-Transfer-Encoding: base64',
        '',
        ...Array.from(
          { length: 40 },
          () => 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0',
        ),
        '--b1--',
        '',
      ]),
    ),
  },
];
