// Reads ValiMail's ARC validation suite (test/fixtures/arc/arc-draft-validation-tests.yml):
// scenarios of messages with the expected chain validation status (cv), and the DKIM key
// records they use.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

/** One message of the suite and its expected chain result (none, pass, fail; "" in three tests). */
export interface ArcSuiteTest {
  name: string;
  message: string;
  cv: string;
}

/** One scenario: its tests and its TXT records (name → record). */
export interface ArcSuiteScenario {
  description: string;
  tests: ArcSuiteTest[];
  txtRecords: Record<string, string>;
}

/** Loads the scenarios of the suite. */
export function loadArcSuite(path: string): ArcSuiteScenario[] {
  return parseAllDocuments(readFileSync(path, 'utf8'))
    .map((document) => document.toJS() as Record<string, unknown> | null)
    .filter((data): data is Record<string, unknown> => data !== null)
    .map((data) => ({
      description: String(data.description).trim(),
      txtRecords: (data['txt-records'] ?? {}) as Record<string, string>,
      tests: Object.entries(data.tests as Record<string, { message?: string; cv?: string }>).map(([name, test]) => ({
        name,
        message: (test.message ?? '').replace(/\r?\n/g, '\r\n'),
        cv: String(test.cv ?? '')
          .trim()
          .toLowerCase(),
      })),
    }));
}
