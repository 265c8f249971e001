// Doctor's report for people: one line per check (a mark, the name, the IP, the message) with the
// record to publish under it, then the providers' table.
import type { DoctorCheck, DoctorReport, GradeStatus } from './doctor-types';
import { gradeNotes, providers, scopeOf } from './provider-grades';

const marks: Record<DoctorCheck['status'], string> = { ok: 'ok   ', warn: 'warn ', error: 'ERROR' };

const cell: Record<GradeStatus, string> = {
  ok: 'ok',
  warn: 'warn',
  error: 'FAIL',
  'not-applicable': 'n/a',
  'not-checkable': '?',
};

/** The report as text (ends with a newline). */
export function renderReport(report: DoctorReport): string {
  const out: string[] = [`homing doctor ${report.domain}`, ''];
  for (const check of report.checks) {
    out.push(`${marks[check.status]} ${check.name}${check.ip ? ` ${check.ip}` : ''}: ${check.message}`);
    if (check.record) {
      out.push(`      ${check.status === 'ok' ? 'record' : 'publish'}:`);
      for (const line of check.record.split('\n')) out.push(`        ${line}`);
    }
  }
  const errors = report.checks.filter((check) => check.status === 'error').length;
  const warnings = report.checks.filter((check) => check.status === 'warn').length;
  out.push('', `${errors} error(s), ${warnings} warning(s).`, '');
  out.push('Sender requirements (all: every sender; bulk: over ~5,000 a day to that provider; rec: recommended):');
  const rows = [...new Set(report.providers.map((grade) => grade.requirement))];
  const width = Math.max(...rows.map((row) => row.length), 11);
  out.push(`  ${'requirement'.padEnd(width)}  ${providers.map((p) => p.padEnd(16)).join('')}`);
  for (const row of rows) {
    const cells = providers.map((provider) => {
      const grade = report.providers.find((g) => g.provider === provider && g.requirement === row);
      const scope = scopeOf(row, provider);
      const text = grade ? `${cell[grade.status]} (${scope === 'recommended' ? 'rec' : scope})` : '-';
      return text.padEnd(16);
    });
    const note = gradeNotes[row] ? `  ${gradeNotes[row]}` : '';
    out.push(`  ${row.padEnd(width)}  ${cells.join('')}${note}`.trimEnd());
  }
  out.push('');
  return out.join('\n');
}
