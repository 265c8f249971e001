// The reflector's report: what the server saw of one message, as a graded list of checks (for
// people and for `homing doctor --send`) and as the reply message that carries it. Pure: the
// results come from @homing/policy (authenticate, checkFcrdns) and the header lint.
import { randomBytes } from 'node:crypto';
import type { AuthenticationResults, FcrdnsResult } from '@homing/policy';
import { rfc5322Date } from '../inbound/trace-headers';
import type { HeaderFinding } from './header-lint';

/** What the reflector saw of one message. */
export interface ReflectorObservation {
  reflector: string;
  hostname: string;
  receivedAt: Date;
  envelope: { from: string; to: string[] };
  client: { ip: string; helo: string | undefined; fcrdns: FcrdnsResult | undefined };
  tls: boolean;
  /** Undefined when the checks did not run (no DNS, or out of time). */
  auth: AuthenticationResults | undefined;
  header: HeaderFinding[];
  messageId: string | undefined;
  subject: string | undefined;
}

/** One graded line of the report. */
export interface ReportCheck {
  name: string;
  status: 'pass' | 'fail' | 'warn' | 'none';
  message: string;
}

/** The report as JSON (the `application/json` part, version 1). */
export interface ReflectorReport {
  version: 1;
  reflector: string;
  receivedAt: string;
  envelope: { from: string; to: string[] };
  client: { ip: string; helo: string | null; ptr: string[]; fcrdns: string };
  tls: boolean;
  messageId: string | null;
  authenticationResults: string | null;
  checks: ReportCheck[];
}

const status = (result: string): ReportCheck['status'] =>
  result === 'pass' ? 'pass' : result === 'none' ? 'none' : result === 'neutral' ? 'warn' : 'fail';

/** Grades what was seen, check by check. */
export function buildReport(seen: ReflectorObservation): ReflectorReport {
  const checks: ReportCheck[] = [];
  const { auth, client } = seen;
  if (auth === undefined) {
    for (const name of ['spf', 'dkim', 'dmarc', 'arc']) {
      checks.push({ name, status: 'none', message: 'not checked (no DNS, or the checks ran out of time)' });
    }
  } else {
    const spf = auth.spf;
    checks.push({
      name: 'spf',
      status: status(spf.result),
      message: `${spf.result} for ${spf.sender} (${spf.identity}) from ${spf.ip}${spf.mechanism ? `, matched ${spf.mechanism}` : ''}`,
    });
    const dmarc = auth.dmarc;
    if (auth.dkim.length === 0) checks.push({ name: 'dkim', status: 'none', message: 'no DKIM-Signature' });
    else {
      const best = auth.dkim.find((signature) => signature.result === 'pass') ?? auth.dkim[0]!;
      const listed = auth.dkim
        .map(
          (s) => `${s.result} d=${s.domain}${s.selector ? ` s=${s.selector}` : ''}${s.reason ? ` (${s.reason})` : ''}`,
        )
        .join('; ');
      checks.push({ name: 'dkim', status: status(best.result), message: listed });
    }
    checks.push(
      dmarc === undefined
        ? { name: 'dmarc', status: 'fail', message: 'not evaluated: the message has no single From address' }
        : {
            name: 'dmarc',
            status: status(dmarc.result),
            message: `${dmarc.result} for ${dmarc.domain}${dmarc.policy ? ` (p=${dmarc.policy})` : ''}; aligned: SPF ${dmarc.alignment.spf ?? 'no'}, DKIM ${dmarc.alignment.dkim ?? 'no'}; ${dmarc.reason}`,
          },
    );
    checks.push({
      name: 'arc',
      status: auth.arc.result === 'none' ? 'none' : status(auth.arc.result),
      message:
        auth.arc.result === 'none'
          ? 'no ARC chain (expected for a direct send)'
          : `${auth.arc.result}${auth.arc.reason ? `: ${auth.arc.reason}` : ''}`,
    });
  }
  const fcrdns = client.fcrdns;
  checks.push(
    fcrdns === undefined
      ? { name: 'fcrdns', status: 'none', message: 'not checked' }
      : { name: 'fcrdns', status: fcrdns.result === 'none' ? 'fail' : status(fcrdns.result), message: fcrdns.reason },
  );
  const helo = client.helo;
  const confirmed = fcrdns?.confirmed ?? [];
  checks.push(
    helo === undefined
      ? { name: 'helo', status: 'fail', message: 'no HELO/EHLO' }
      : confirmed.includes(helo.toLowerCase())
        ? { name: 'helo', status: 'pass', message: `${helo} is the client's forward-confirmed PTR name` }
        : {
            name: 'helo',
            status: 'warn',
            message: `${helo} is not the client's forward-confirmed PTR name (${confirmed.join(', ') || 'none'}); receivers like them to match`,
          },
  );
  checks.push(
    seen.tls
      ? { name: 'tls', status: 'pass', message: 'the message came over TLS (STARTTLS or implicit)' }
      : { name: 'tls', status: 'fail', message: 'the message came in plain text; offer and use STARTTLS' },
  );
  for (const finding of seen.header)
    checks.push({ name: finding.name, status: finding.status, message: finding.message });
  return {
    version: 1,
    reflector: seen.reflector,
    receivedAt: seen.receivedAt.toISOString(),
    envelope: seen.envelope,
    client: {
      ip: client.ip,
      helo: helo ?? null,
      ptr: fcrdns?.names ?? [],
      fcrdns: fcrdns?.result ?? 'none',
    },
    tls: seen.tls,
    messageId: seen.messageId ?? null,
    authenticationResults: auth?.header ?? null,
    checks,
  };
}

// Header text from the client must stay one header line.
const oneLine = (text: string) => text.replace(/[\x00-\x1f\x7f]+/g, ' ').slice(0, 200);

/** The reply message (RFC 5322, MIME multipart/mixed: the report as text, then as JSON). */
export function renderReportMessage(report: ReflectorReport, seen: ReflectorObservation): string {
  const boundary = `homing-reflector-${randomBytes(9).toString('hex')}`;
  const domain = seen.reflector.slice(seen.reflector.lastIndexOf('@') + 1);
  const failed = report.checks.filter((check) => check.status === 'fail').map((check) => check.name);
  const summary = ['spf', 'dkim', 'dmarc']
    .map((name) => `${name.toUpperCase()} ${report.checks.find((check) => check.name === name)?.status ?? 'none'}`)
    .join(', ');
  const width = Math.max(...report.checks.map((check) => check.name.length));
  const text = [
    `Homing reflector ${seen.reflector} on ${seen.hostname} received your message at ${report.receivedAt}`,
    `from ${report.client.ip} (HELO ${report.client.helo ?? 'none'}), envelope sender <${report.envelope.from}>.`,
    '',
    ...report.checks.map((check) => `${check.name.padEnd(width)}  ${check.status.padEnd(4)}  ${check.message}`),
    '',
    failed.length === 0 ? 'Nothing failed.' : `Failed: ${failed.join(', ')}.`,
    '',
    report.authenticationResults ?? 'Authentication-Results: none',
  ];
  const headers = [
    `From: Homing reflector <${seen.reflector}>`,
    `To: <${report.envelope.from}>`,
    `Subject: Reflector report: ${summary}${seen.subject ? ` (re: ${oneLine(seen.subject)})` : ''}`,
    `Date: ${rfc5322Date(seen.receivedAt)}`,
    `Message-ID: <${randomBytes(12).toString('hex')}@${domain}>`,
    ...(seen.messageId ? [`In-Reply-To: ${oneLine(seen.messageId)}`, `References: ${oneLine(seen.messageId)}`] : []),
    // RFC 3834 5: an automatic answer says so, so other responders do not answer it back.
    'Auto-Submitted: auto-replied',
    'X-Homing-Reflector: 1',
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
  ];
  const json = JSON.stringify(report, null, 2);
  return [
    ...headers,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    ...text,
    `--${boundary}`,
    'Content-Type: application/json; name="reflector-report.json"',
    'Content-Disposition: attachment; filename="reflector-report.json"',
    'Content-Transfer-Encoding: 8bit',
    '',
    ...json.split('\n'),
    `--${boundary}--`,
    '',
  ].join('\r\n');
}

/** The report JSON of a reflector reply (what `homing doctor --send` grades), or undefined if it holds none. */
export function parseReportMessage(message: string): ReflectorReport | undefined {
  const match =
    /Content-Type: application\/json;[^\r\n]*\r?\n(?:[^\r\n]+\r?\n)*\r?\n([\s\S]*?)\r?\n--homing-reflector-/i.exec(
      message,
    );
  if (match === null) return undefined;
  try {
    const report = JSON.parse(match[1]!) as ReflectorReport;
    return report.version === 1 && Array.isArray(report.checks) ? report : undefined;
  } catch {
    return undefined;
  }
}
