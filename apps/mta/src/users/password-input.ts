// Where `homing user add|passwd` gets a password: a prompt without echo on a terminal, or one line
// of standard input with --password-stdin (for scripts; never from a command-line argument, which
// other users of the host can read in the process list).

/** Reads the first line of standard input (without its line ending). */
export async function readPasswordLine(input: NodeJS.ReadableStream = process.stdin): Promise<string> {
  let text = '';
  for await (const chunk of input) {
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    if (text.includes('\n')) break;
  }
  return text.split('\n')[0]!.replace(/\r$/, '');
}

/** Asks for a password on the terminal without echoing it; rejects on Ctrl-C or Ctrl-D. */
export function promptHidden(prompt: string): Promise<string> {
  const input = process.stdin;
  const output = process.stderr;
  // Echo off before the prompt shows: a fast typist (or a script on a pty) answers the moment
  // the prompt appears, and whatever came before raw mode would be echoed.
  input.setRawMode(true);
  output.write(prompt);
  input.setEncoding('utf8');
  input.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = () => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      output.write('\n');
    };
    const onData = (chunk: string) => {
      for (const character of chunk) {
        if (character === '\r' || character === '\n') {
          finish();
          resolve(value);
          return;
        }
        if (character === '\u0003' || (character === '\u0004' && value === '')) {
          finish();
          reject(new Error('cancelled; the users file is unchanged'));
          return;
        }
        if (character === '\u007f' || character === '\b') value = [...value].slice(0, -1).join('');
        else if (character === '\u0015') value = '';
        else if (character >= ' ') value += character;
      }
    };
    input.on('data', onData);
  });
}

/** The new password: asked twice on a terminal, or one line of stdin; never empty. */
export async function newPassword(options: { passwordStdin?: boolean }): Promise<string> {
  let password: string;
  if (options.passwordStdin) {
    password = await readPasswordLine();
  } else {
    if (!process.stdin.isTTY) {
      throw new Error('no terminal to ask for the password on; pipe it in with --password-stdin');
    }
    password = await promptHidden('New password: ');
    const again = await promptHidden('Again: ');
    if (again !== password) throw new Error('the two passwords differ; the users file is unchanged, try again');
  }
  if (password === '') throw new Error('the password is empty; give one (the users file is unchanged)');
  return password;
}
