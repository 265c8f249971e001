import { spawnSync } from 'node:child_process';

/** Parses a message with Python's `email` package and returns what the script prints as JSON. */
export function parseWithPython(message: Buffer, script: string): unknown {
  const result = spawnSync('python3', ['-c', script], { input: message, timeout: 15_000 });
  if (result.error !== undefined) {
    throw new Error(`python3 is missing (${result.error.message}): run \`bash .ci/install-peers.sh\``);
  }
  if (result.status !== 0) throw new Error(`python3 failed: ${result.stderr.toString()}`);
  return JSON.parse(result.stdout.toString());
}

/** A Python script that prints the DSN structure as JSON: content types, report-type, status blocks. */
export const DSN_SCRIPT = `
import email, json, sys
from email import policy
m = email.message_from_bytes(sys.stdin.buffer.read())
parts = m.get_payload()
status = parts[1]
blocks = [dict(b.items()) for b in status.get_payload()]
print(json.dumps({
  "type": m.get_content_type(),
  "reportType": m.get_param("report-type"),
  "defects": [str(d) for d in m.defects],
  "to": m["To"], "from": m["From"], "subject": m["Subject"],
  "parts": [p.get_content_type() for p in parts],
  "human": parts[0].get_payload(decode=True).decode("utf-8"),
  "blocks": blocks,
  "headers": parts[2].get_payload(),
}))
`;
