// The table of what Gmail, Yahoo and Microsoft publish as sender requirements, graded from doctor's
// checks. Source: their sender-guideline pages (Google support 81126 and 14229414, Yahoo
// senders.yahooinc.com/best-practices, Microsoft "Outlook's New Requirements for High-Volume
// Senders", April 2025). "bulk" means more than about 5,000 messages a day to that provider.
import type { DoctorCheck, GradeStatus, Provider, ProviderGrade } from './doctor-types';

/** Who asks for a requirement: every sender, bulk senders only, or as a recommendation. */
type Scope = 'all' | 'bulk' | 'recommended';

interface Requirement {
  requirement: string;
  scopes: Partial<Record<Provider, Scope>>;
  /** The grade from the checks, or a fixed status when it cannot be checked here. */
  grade: (checks: DoctorCheck[], domain: string) => GradeStatus;
}

const worst = (checks: DoctorCheck[], ...names: string[]): GradeStatus | undefined => {
  const matching = checks.filter((check) => names.includes(check.name));
  if (matching.length === 0) return undefined;
  if (matching.some((check) => check.status === 'error')) return 'error';
  return matching.some((check) => check.status === 'warn') ? 'warn' : 'ok';
};
const passes = (checks: DoctorCheck[], name: string) => worst(checks, name) === 'ok' || worst(checks, name) === 'warn';

/** The requirements, in the order of the reference table. */
export const requirements: Requirement[] = [
  {
    requirement: 'SPF or DKIM passes',
    scopes: { Gmail: 'all', Yahoo: 'all' },
    grade: (checks) => (passes(checks, 'spf') || passes(checks, 'dkim') ? 'ok' : 'error'),
  },
  {
    requirement: 'SPF and DKIM both pass',
    scopes: { Gmail: 'bulk', Yahoo: 'bulk', Microsoft: 'bulk' },
    grade: (checks) => (passes(checks, 'spf') && passes(checks, 'dkim') ? 'ok' : 'error'),
  },
  {
    requirement: 'DMARC record (p=none at least) and mail passes DMARC',
    scopes: { Gmail: 'bulk', Yahoo: 'bulk', Microsoft: 'bulk' },
    grade: (checks) => worst(checks, 'dmarc') ?? 'error',
  },
  {
    requirement: 'From: domain aligned with the SPF or DKIM domain',
    scopes: { Gmail: 'bulk', Yahoo: 'bulk', Microsoft: 'bulk' },
    // We sign with d=DOMAIN and send MAIL FROM @DOMAIN: aligned whenever one of them passes.
    grade: (checks) => (passes(checks, 'dmarc') && (passes(checks, 'spf') || passes(checks, 'dkim')) ? 'ok' : 'error'),
  },
  {
    requirement: 'DKIM key of at least 1024 bits (2048 recommended)',
    scopes: { Gmail: 'all', Yahoo: 'recommended' },
    grade: (checks) => worst(checks, 'dkim') ?? 'error',
  },
  {
    requirement: 'valid forward and reverse DNS for each sending IP',
    scopes: { Gmail: 'all', Yahoo: 'all', Microsoft: 'all' },
    grade: (checks) => worst(checks, 'a', 'ptr', 'fcrdns', 'helo') ?? 'error',
  },
  {
    requirement: 'TLS on the SMTP connection',
    scopes: { Gmail: 'all' },
    grade: (checks) => worst(checks, 'tls') ?? 'not-checkable',
  },
  {
    requirement: 'RFC 5322 format (one From, Message-ID, single-instance headers once)',
    scopes: { Gmail: 'all', Yahoo: 'all', Microsoft: 'all' },
    // Only a message that went through the outbound path shows it: `homing doctor --send`.
    grade: (checks) => worst(checks, 'send') ?? 'not-checkable',
  },
  {
    requirement: 'no impersonation of gmail.com in From:',
    scopes: { Gmail: 'all' },
    grade: (_checks, domain) => (/(^|\.)(gmail|googlemail)\.com$/i.test(domain) ? 'error' : 'ok'),
  },
  {
    requirement: 'one-click unsubscribe (RFC 8058) for bulk and marketing mail',
    scopes: { Gmail: 'bulk', Yahoo: 'bulk', Microsoft: 'recommended' },
    grade: () => 'not-applicable',
  },
  {
    requirement: 'spam complaint rate under 0.3% (0.1% recommended)',
    scopes: { Gmail: 'all', Yahoo: 'all' },
    grade: () => 'not-checkable',
  },
  {
    requirement: 'forwarders and lists add ARC headers',
    scopes: { Gmail: 'recommended', Yahoo: 'recommended' },
    grade: () => 'not-applicable',
  },
];

/** Why a row cannot be graded here, for the text table. */
export const gradeNotes: Record<string, string> = {
  'RFC 5322 format (one From, Message-ID, single-instance headers once)': 'seen only by homing doctor --send',
  'one-click unsubscribe (RFC 8058) for bulk and marketing mail':
    'only for bulk mail: the sending application adds the headers',
  'spam complaint rate under 0.3% (0.1% recommended)':
    'measured by the provider: Google Postmaster Tools, Yahoo Sender Hub, Microsoft SNDS',
  'forwarders and lists add ARC headers': 'only when forwarding',
};

export const providers: Provider[] = ['Gmail', 'Yahoo', 'Microsoft'];

/**
 * One grade per requirement and provider that lists it. A failure is an error only where the
 * provider asks it of every sender; for bulk senders or as a recommendation it is a warning.
 */
export function gradeProviders(checks: DoctorCheck[], domain: string): ProviderGrade[] {
  const grades: ProviderGrade[] = [];
  for (const row of requirements) {
    const status = row.grade(checks, domain);
    for (const provider of providers) {
      const scope = row.scopes[provider];
      if (!scope) continue;
      grades.push({
        provider,
        requirement: row.requirement,
        status: status === 'error' && scope !== 'all' ? 'warn' : status,
      });
    }
  }
  return grades;
}

/** The scope word of a cell, for the text table. */
export function scopeOf(requirement: string, provider: Provider): Scope | undefined {
  return requirements.find((row) => row.requirement === requirement)?.scopes[provider];
}
