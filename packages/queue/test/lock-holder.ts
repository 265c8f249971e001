// A process that opens a spool and keeps it open until killed, for the lock tests. Prints
// "READY <pid>" once open, or "LOCKED <message>" and exits 3 when another process holds it.
import { isQueueError, openFileQueue } from '../src/index';

const spool = process.argv[2];
if (spool === undefined) throw new Error('usage: lock-holder.ts SPOOL');
try {
  await openFileQueue({ spool });
  process.stdout.write(`READY ${process.pid}\n`);
  setInterval(() => undefined, 60_000);
} catch (error) {
  if (!isQueueError(error, 'LOCKED')) throw error;
  process.stdout.write(`LOCKED ${error.message}\n`);
  process.exitCode = 3;
}
