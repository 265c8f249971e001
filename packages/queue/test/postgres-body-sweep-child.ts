// A host the body-sweep test kills with SIGKILL in the middle of an enqueue: it opens the queue
// with bodies in a shared directory, says READY, and enqueues one message (its body file is
// written and fsynced before the statement that would name it, which the test holds back).
import { openPostgresQueue } from '../src/postgres/index';

const [connectionString, schema, bodyDirectory] = process.argv.slice(2);
if (connectionString === undefined || schema === undefined || bodyDirectory === undefined) {
  throw new Error('usage: postgres-body-sweep-child.ts CONNECTION SCHEMA DIRECTORY');
}
const queue = await openPostgresQueue({ connectionString, schema, bodyDirectory });
process.stdout.write(`READY ${process.pid}\n`);
const { id } = await queue.enqueue(
  { sender: 'crash@o.test', recipients: ['r@x.test'] },
  Buffer.from('never acknowledged'),
);
process.stdout.write(`ENQUEUED ${id}\n`);
