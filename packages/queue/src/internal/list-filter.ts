import type { ListFilter, MessageInfo } from '../queue';
import { type MessageEntry, messageInfo } from './message-entry';

/** The messages `list` shows: those matching every field of `filter`, in acceptance order (`seq`). */
export function listMessages(entries: Iterable<MessageEntry>, filter: ListFilter): MessageInfo[] {
  const result: MessageInfo[] = [];
  const sender = filter.sender?.toLowerCase();
  const recipient = filter.recipient?.toLowerCase();
  const domain = filter.domain?.toLowerCase();
  // Sorted here: the index's own order is the order commits completed in, not acceptance.
  const ordered = [...entries].sort((a, b) => a.stored.seq - b.stored.seq);
  for (const entry of ordered) {
    if (filter.limit !== undefined && result.length >= filter.limit) break;
    if (sender !== undefined && entry.stored.sender.toLowerCase() !== sender) continue;
    if (recipient !== undefined && !entry.rcpts.some((r) => r.address.toLowerCase() === recipient)) continue;
    if (domain !== undefined && !entry.rcpts.some((r) => r.domain === domain)) continue;
    if (filter.state === 'held' && !entry.held) continue;
    if (filter.state !== undefined && filter.state !== 'held' && !entry.rcpts.some((r) => r.state === filter.state)) {
      continue;
    }
    result.push(messageInfo(entry));
  }
  return result;
}
