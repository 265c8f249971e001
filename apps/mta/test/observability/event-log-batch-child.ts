// The child of event-log-batch.test.ts: logs to its real stdout (a pipe), counting the write calls
// that reach process.stdout, then ends the way argv[2] says.
import { createEventLog } from '../../src/server/observability/event-log';

const how = process.argv[2] as 'return' | 'exit' | 'throw';
const count = Number(process.argv[3]);
const write = process.stdout.write.bind(process.stdout);
let writes = 0;
process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
  writes += 1;
  return write(chunk, ...rest);
}) as typeof process.stdout.write;
const log = createEventLog({ format: 'text', runId: '00000000000000aa' });
// One burst in one turn of the event loop, then a second burst in a later turn.
for (let i = 0; i < count; i += 1) log.event('c1a89cb774083905', 'smtp', 'message', { n: i });
// Registered after the log's own exit hook (taken at its first line), so it counts that hook's write.
process.on('exit', () => process.stderr.write(`writes=${writes}\n`));
await new Promise((resolve) => setTimeout(resolve, 20));
for (let i = count; i < 2 * count; i += 1) log.event('c1a89cb774083905', 'smtp', 'message', { n: i });
if (how === 'exit') process.exit(0);
if (how === 'throw') throw new Error('crash after logging');
