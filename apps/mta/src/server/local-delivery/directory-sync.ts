// Shared directory fsyncs: deliveries into one `new/` at the same time need the rename of each
// to be durable, and one fsync(2) of the directory that starts after all their renames covers all
// of them (the same group commit the queue does for its data/ directory).
import type { MaildirFileSystem } from './maildir-file-system';

interface DirectoryState {
  /** The fsync running now, if any. */
  running: Promise<void> | undefined;
  /** The fsync that starts when the running one ends; every caller that came meanwhile waits for it. */
  next: Promise<void> | undefined;
}

/** Coalesces fsyncs per directory: `sync(dir)` resolves after an fsync of dir that began after the call. */
export class DirectorySync {
  private readonly states = new Map<string, DirectoryState>();

  constructor(private readonly fileSystem: MaildirFileSystem) {}

  sync(directory: string): Promise<void> {
    let state = this.states.get(directory);
    if (state === undefined) {
      state = { running: undefined, next: undefined };
      this.states.set(directory, state);
    }
    if (state.running === undefined) return this.start(directory, state);
    // An fsync already running may have begun before our rename: wait for the one after it.
    if (state.next === undefined) {
      const current = state;
      state.next = state.running.then(
        () => this.startNext(directory, current),
        () => this.startNext(directory, current),
      );
    }
    return state.next;
  }

  private startNext(directory: string, state: DirectoryState): Promise<void> {
    state.next = undefined;
    return this.start(directory, state);
  }

  private start(directory: string, state: DirectoryState): Promise<void> {
    const running = this.fileSystem.syncDirectory(directory).finally(() => {
      if (state.running === running) state.running = undefined;
      if (state.running === undefined && state.next === undefined) this.states.delete(directory);
    });
    state.running = running;
    return running;
  }
}
