// Argument parsers shared by the commands, so that a bad value gets the same words everywhere
// and is a usage error (exit 2) raised by commander before the command runs.
import { isIP } from 'node:net';
import { usageError } from './command-error';

/** The one wording for an IP address that is not one, in every command. */
export function notAnIpAddress(value: string): string {
  return `"${value}" is not an IP address; give an IPv4 or IPv6 address, e.g. 192.0.2.1 or 2001:db8::1`;
}

// The parsers throw a CommandError rather than commander's InvalidArgumentError, whose message
// commander wraps in its own words ("option '--ip <address>' argument 'x' is invalid. ...").

/** Commander parser of an IPv4 or IPv6 address argument (as `isIP` takes it, without brackets or a zone). */
export function ipArgument(value: string): string {
  if (isIP(value) === 0) throw usageError(notAnIpAddress(value));
  return value;
}

/** The same for an option: the message starts with the option's name, e.g. `ipOption('--ip')`. */
export function ipOption(name: string) {
  return (value: string): string => {
    if (isIP(value) === 0) throw usageError(`${name}: ${notAnIpAddress(value)}`);
    return value;
  };
}

/** A repeatable IP option that also takes a comma-separated list (`--ip 192.0.2.1,2001:db8::1`). */
export function ipListOption(name: string) {
  const one = ipOption(name);
  return (value: string, previous: string[] = []): string[] => [
    ...previous,
    ...value
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean)
      .map(one),
  ];
}

/** Commander parser of a whole number from `min` up, e.g. `wholeNumber('--interval', 1)`. */
export function wholeNumber(name: string, min = 0, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const number = /^[0-9]+$/.test(value) ? Number(value) : Number.NaN;
    if (!(number >= min && number <= max)) {
      const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`;
      throw usageError(`${name} must be a whole number ${range}, not "${value}"`);
    }
    return number;
  };
}

/** Reads a whole message from stdin; refuses a terminal and an empty input (a usage error each). */
export async function readMessageFromStdin(example: string): Promise<Buffer> {
  if (process.stdin.isTTY) throw usageError(`give the message on stdin, e.g. ${example}`);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const message = Buffer.concat(chunks);
  if (message.length === 0) {
    throw usageError(
      `the message on stdin is empty; pipe a whole message (headers and body), e.g. ${example}`,
      'EMPTY_MESSAGE',
    );
  }
  return message;
}
