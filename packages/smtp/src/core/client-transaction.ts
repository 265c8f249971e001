import type { TransactionCommands } from './client-commands';
import type { RecipientResult, TransactionResult } from './client-events';
import type { Reply } from './reply';

/** One message in flight: what was sent and what came back, until its result is known. */
export interface Transaction {
  commands: TransactionCommands;
  pipelined: boolean;
  bdat: boolean;
  mailReply?: Reply;
  rcptReplies: Reply[];
  dataReply?: Reply;
  /** A BDAT chunk was refused, or the server replied before the end of DATA: send no more body. */
  bodyStopped: boolean;
  lastChunkSent: boolean;
}

/** RFC 5321 4.2.1: 2yz is a positive completion. */
export const isPositive = (reply: Reply): boolean => reply.code >= 200 && reply.code < 300;

/**
 * Per-recipient outcome: accepted only when MAIL, its RCPT and the end of data all got 2xx;
 * otherwise rejected with the reply that refused it (MAIL's, its RCPT's, or DATA's).
 */
export function transactionResult(transaction: Transaction): TransactionResult {
  const mailReply = transaction.mailReply!;
  const accepted: RecipientResult[] = [];
  const rejected: RecipientResult[] = [];
  const dataOk = transaction.dataReply !== undefined && isPositive(transaction.dataReply);
  transaction.commands.rcpts.forEach(({ address }, index) => {
    const rcptReply = transaction.rcptReplies[index];
    if (!isPositive(mailReply)) rejected.push({ address, reply: mailReply });
    else if (!rcptReply || !isPositive(rcptReply)) rejected.push({ address, reply: rcptReply ?? mailReply });
    else if (dataOk) accepted.push({ address, reply: rcptReply });
    else rejected.push({ address, reply: transaction.dataReply ?? rcptReply });
  });
  const result: TransactionResult = { accepted, rejected, mailReply };
  if (transaction.dataReply) result.dataReply = transaction.dataReply;
  return result;
}
