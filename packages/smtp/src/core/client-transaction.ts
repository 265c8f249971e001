import type { TransactionCommands } from './client-commands';
import type { RecipientResult, TransactionResult } from './client-events';
import type { ServerExtensions } from './ehlo-extensions';
import type { Reply } from './reply';

/** One message in flight: what was sent and what came back, until its result is known. */
export interface Transaction {
  commands: TransactionCommands;
  pipelined: boolean;
  bdat: boolean;
  /** An earlier message went over this session: a 503 to MAIL then means the session is stale. */
  reused: boolean;
  mailReply?: Reply;
  rcptReplies: Reply[];
  dataReply?: Reply;
  /** A BDAT chunk was refused, or the server replied before the end of DATA: send no more body. */
  bodyStopped: boolean;
  lastChunkSent: boolean;
}

/** A new transaction; BDAT (RFC 3030) only with PIPELINING too, since its chunks are pipelined. */
export function openTransaction(
  commands: TransactionCommands,
  extensions: ServerExtensions,
  chunking: boolean,
  reused: boolean,
): Transaction {
  const { pipelining } = extensions;
  const bdat = extensions.chunking && pipelining && chunking;
  return { commands, pipelined: pipelining, bdat, reused, rcptReplies: [], bodyStopped: false, lastChunkSent: false };
}

/**
 * What goes first: MAIL alone, or (RFC 2920 3.1) MAIL, every RCPT and DATA as one group, DATA
 * last; under BDAT the chunks wait for the RCPT replies.
 */
export function firstCommands(transaction: Transaction): { lines: string[]; expected: TransactionExpected[] } {
  const { commands } = transaction;
  if (!transaction.pipelined) return { lines: [commands.mail], expected: [{ kind: 'mail' }] };
  const lines = [commands.mail, ...commands.rcpts.map((r) => r.line)];
  const expected: TransactionExpected[] = [
    { kind: 'mail' },
    ...commands.rcpts.map((_, index) => ({ kind: 'rcpt' as const, index })),
  ];
  if (!transaction.bdat) {
    lines.push('DATA');
    expected.push({ kind: 'data' });
  }
  return { lines, expected };
}

/** A reply of the transaction, with what it answers. */
export type TransactionExpected =
  | { kind: 'mail' | 'data' | 'dot' | 'abort-dot' }
  | { kind: 'rcpt'; index: number }
  | { kind: 'bdat'; last: boolean };

/** What the session does after one reply of the transaction. */
export type TransactionStep =
  /** Nothing yet: more replies of the pipelined group are due. */
  | { kind: 'wait' }
  /** Without PIPELINING: send the next command. */
  | { kind: 'send'; line: string; expected: TransactionExpected }
  /** Stream the body. */
  | { kind: 'body'; mode: 'data' | 'bdat' }
  /** 354 for our own transaction with no recipient: end it empty (`.`) and expect its refusal. */
  | { kind: 'end-empty' }
  /** The transaction failed: RSET, then report the outcome. */
  | { kind: 'reset' }
  /** The outcome is known and both sides are in step. */
  | { kind: 'done' }
  /** Report the outcome, then give up the session: the server's state is not one we can name. */
  | { kind: 'desynchronised'; reason: string }
  /** The session is stale (503 to MAIL on a reused session): nothing of this message was accepted. */
  | { kind: 'unusable'; reason: string };

/** RFC 5321 4.2.1: 2yz is a positive completion. */
export const isPositive = (reply: Reply): boolean => reply.code >= 200 && reply.code < 300;

/**
 * The step after `reply`, the answer to `expected`. `bodyInProgress`: the adapter is still writing
 * the DATA body; `chunksPending`: replies to earlier BDAT chunks are still due.
 */
export function transactionStep(
  transaction: Transaction,
  expected: TransactionExpected,
  reply: Reply,
  bodyInProgress: boolean,
  chunksPending: boolean,
): TransactionStep {
  const { commands } = transaction;
  const mailOk = transaction.mailReply !== undefined && isPositive(transaction.mailReply);
  const anyAccepted = () => mailOk && transaction.rcptReplies.some(isPositive);
  switch (expected.kind) {
    case 'mail':
      transaction.mailReply = reply;
      // Postfix answers MAIL with `503 5.5.1 nested MAIL command` when it kept the previous
      // transaction (after a refusal at the end of data): whatever else we pipelined goes to that
      // old transaction, so the session must end here.
      if (reply.code === 503 && transaction.reused) {
        return { kind: 'unusable', reason: 'MAIL refused with 503 on a reused session' };
      }
      if (transaction.pipelined) return { kind: 'wait' };
      if (!isPositive(reply)) return { kind: 'reset' };
      return { kind: 'send', line: commands.rcpts[0]!.line, expected: { kind: 'rcpt', index: 0 } };
    case 'rcpt': {
      transaction.rcptReplies[expected.index] = reply;
      const next = expected.index + 1;
      if (next < commands.rcpts.length) {
        if (transaction.pipelined) return { kind: 'wait' };
        return { kind: 'send', line: commands.rcpts[next]!.line, expected: { kind: 'rcpt', index: next } };
      }
      if (!anyAccepted()) return transaction.pipelined && !transaction.bdat ? { kind: 'wait' } : { kind: 'reset' };
      if (transaction.bdat) return { kind: 'body', mode: 'bdat' };
      return transaction.pipelined ? { kind: 'wait' } : { kind: 'send', line: 'DATA', expected: { kind: 'data' } };
    }
    case 'data':
      if (reply.code === 354) {
        if (anyAccepted()) return { kind: 'body', mode: 'data' };
        // RFC 2920 3.1: our DATA went through although no recipient did. Ending it empty is safe
        // only inside our own transaction; after a refused MAIL the server may be in another.
        if (mailOk) return { kind: 'end-empty' };
        return { kind: 'desynchronised', reason: 'the server answered 354 to DATA after refusing MAIL' };
      }
      if (anyAccepted()) transaction.dataReply = reply;
      return { kind: 'reset' };
    case 'abort-dot':
      return { kind: 'reset' };
    case 'dot':
      transaction.dataReply = reply;
      if (bodyInProgress) {
        // The server answered before we finished the body; what we still write would be read as commands.
        transaction.bodyStopped = true;
        return { kind: 'desynchronised', reason: 'the server replied before the end of data' };
      }
      return isPositive(reply) ? { kind: 'done' } : { kind: 'reset' };
    case 'bdat':
      if (!isPositive(reply) && !transaction.bodyStopped) {
        transaction.dataReply = reply;
        transaction.bodyStopped = true;
      } else if (expected.last && isPositive(reply)) {
        transaction.dataReply = reply;
      }
      if (chunksPending || (!transaction.bodyStopped && !expected.last)) return { kind: 'wait' };
      // RFC 3030 2: after a refused chunk the transaction is void; RSET puts both sides back in step.
      return transaction.bodyStopped ? { kind: 'reset' } : { kind: 'done' };
  }
}

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
