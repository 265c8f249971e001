import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import {
  type Canonicalization,
  checkPublishedKey,
  createSigner,
  describeKey,
  generateKey,
  isDkimError,
  keyRecordNameFor,
  parsePrivateKey,
} from '@homing/dkim';
import { type Command, Option } from 'commander';
import { wholeNumber } from '../command-arguments';
import { notFoundError, usageError } from '../command-error';
import { addDnsOption, resolverFromOptions } from '../dns-option';

interface KeygenOptions {
  domain: string;
  selector: string;
  algorithm: 'rsa' | 'ed25519';
  bits?: number;
  out: string;
  json?: boolean;
}

interface SignOptions {
  domain: string;
  selector: string;
  key: string;
  canonicalization: Canonicalization;
}

interface CheckOptions {
  domain: string;
  selector: string;
  key: string;
  json?: boolean;
  dns?: string;
}

/** Adds `homing dkim keygen|sign|check`: make a DKIM key and its record, sign a message, check the published key. */
export function registerDkimCommand(program: Command): void {
  const dkim = program
    .command('dkim')
    .description('DKIM signing keys: generate, sign a message, check the published key');

  dkim
    .command('keygen')
    .description('Generate a DKIM private key, write it to a file (mode 600) and print the TXT record to publish')
    .requiredOption('--domain <domain>', 'the signing domain (d=), e.g. example.com')
    .requiredOption('--selector <selector>', 'the selector (s=), e.g. mail2026')
    .addOption(new Option('--algorithm <algorithm>', 'key type').choices(['rsa', 'ed25519']).default('rsa'))
    // RFC 8301 3.2: at least 1024 bits, 2048 recommended; Ed25519 keys have no size to choose.
    .option('--bits <bits>', 'RSA key size, 1024 to 4096 (default 2048)', wholeNumber('--bits', 1024, 4096))
    .option('--out <dir>', 'directory to write the key file into', '.')
    .option('--json', 'print one JSON object on one line')
    .action(async (options: KeygenOptions) => {
      const name = checkNames(options.domain, options.selector);
      if (options.bits !== undefined && options.algorithm !== 'rsa') {
        throw usageError('--bits is for RSA keys; an ed25519 key is always 256 bits');
      }
      const key = generateKey({
        algorithm: options.algorithm,
        ...(options.bits === undefined ? {} : { bits: options.bits }),
      });
      await mkdir(options.out, { recursive: true });
      const file = resolve(
        options.out,
        `dkim-${name.slice(name.indexOf('._domainkey.') + 12)}-${options.selector}.pem`,
      );
      try {
        await writeFile(file, key.privateKey, { mode: 0o600, flag: 'wx' });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new Error(`${file} already exists: remove it, or choose another --selector or --out`);
        }
        throw new Error(`cannot write ${file}: ${(error as Error).message}`);
      }
      if (options.json) {
        const summary = {
          domain: options.domain,
          selector: options.selector,
          algorithm: key.algorithm,
          keyFile: file,
          name,
          record: key.record,
        };
        process.stdout.write(`${JSON.stringify(summary)}\n`);
        return;
      }
      const zone = key.recordStrings.map((part) => `"${part}"`).join(' ');
      process.stdout.write(
        [
          `Private key (${key.algorithm}) written to ${file}: keep it secret.`,
          `Publish this TXT record at ${name}:`,
          key.record,
          'As a zone file line:',
          `${name}. 3600 IN TXT ( ${zone} )`,
          '',
        ].join('\n'),
      );
    });

  dkim
    .command('sign')
    .description('Sign the message read on standard input and write it, signed, to standard output')
    .requiredOption('--domain <domain>', 'the signing domain (d=)')
    .requiredOption('--selector <selector>', 'the selector (s=)')
    .requiredOption('--key <file>', 'the private key file (PEM, or a base64 Ed25519 seed)')
    .addOption(
      new Option('--canonicalization <c>', 'header/body canonicalization')
        .choices(['relaxed/relaxed', 'relaxed/simple', 'simple/relaxed', 'simple/simple'])
        .default('relaxed/relaxed'),
    )
    .action(async (options: SignOptions) => {
      checkNames(options.domain, options.selector);
      const privateKey = await readKey(options.key);
      if (process.stdin.isTTY) throw usageError('give the message on stdin, e.g. homing dkim sign ... < message.eml');
      const signer = withClearErrors(() =>
        createSigner({
          signatures: [
            {
              domain: options.domain,
              selector: options.selector,
              privateKey,
              canonicalization: options.canonicalization,
            },
          ],
        }),
      );
      // The message is spooled to a private temporary file while it is hashed, so that memory does
      // not grow with it: the signature header has to be written before the message.
      const dir = await mkdtemp(join(tmpdir(), 'homing-dkim-'));
      const spool = join(dir, 'message');
      try {
        const out = createWriteStream(spool, { mode: 0o600 });
        let lineEnd: '\r\n' | '\n' | undefined;
        let previous = 0;
        let size = 0;
        await pipeline(
          process.stdin,
          async function* (source: AsyncIterable<Buffer>) {
            for await (const chunk of source) {
              size += chunk.length;
              if (lineEnd === undefined && chunk.length > 0) {
                // The header is written in the message's own line-end style (a file with LF ends stays LF).
                const lf = chunk.indexOf(0x0a);
                if (lf !== -1) lineEnd = (lf === 0 ? previous : chunk[lf - 1]) === 0x0d ? '\r\n' : '\n';
                previous = chunk[chunk.length - 1]!;
              }
              withClearErrors(
                () => signer.update(chunk),
                (message, code) =>
                  code === 'HEADER_TOO_LARGE'
                    ? 'the message has no end to its header block in its first 1 MiB: is standard input a mail message?'
                    : message,
              );
              yield chunk;
            }
          },
          out,
        );
        if (size === 0) {
          throw usageError(
            'the message on stdin is empty; pipe a whole message, e.g. homing dkim sign ... < message.eml',
            'EMPTY_MESSAGE',
          );
        }
        const { header } = signer.final();
        process.stdout.write(lineEnd === '\n' ? header.replace(/\r\n/g, '\n') : header);
        await pipeline(createReadStream(spool), process.stdout, { end: false });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

  const check = dkim
    .command('check')
    .description('Check that the DKIM key record published in DNS matches the private key')
    .requiredOption('--domain <domain>', 'the signing domain (d=)')
    .requiredOption('--selector <selector>', 'the selector (s=)')
    .requiredOption('--key <file>', 'the private key file (PEM, or a base64 Ed25519 seed)')
    .option('--json', 'print one JSON object on one line');
  addDnsOption(check);
  check.action(async (options: CheckOptions) => {
    checkNames(options.domain, options.selector);
    const privateKey = await readKey(options.key);
    const resolver = resolverFromOptions(options);
    const report = await checkPublishedKey(
      { domain: options.domain, selector: options.selector, privateKey },
      resolver,
    );
    if (options.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else {
      const lines = [`${report.status}: ${report.detail}`];
      if (report.found !== undefined && report.status !== 'ok') lines.push(`found:    ${report.found}`);
      if (report.status !== 'ok') lines.push(`expected: ${report.expected}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    if (report.status !== 'ok') process.exitCode = 1;
  });
}

function checkNames(domain: string, selector: string): string {
  try {
    return keyRecordNameFor(domain, selector);
  } catch (error) {
    // A malformed name is a usage error (exit 2), not a failure of the command.
    if (isDkimError(error)) throw usageError(`${error.message} (--domain/--selector)`);
    throw error;
  }
}

async function readKey(file: string) {
  let text: Buffer;
  try {
    text = await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    const message = `cannot read the key file ${file} (${why}); pass the private key with --key FILE`;
    if (code === 'ENOENT') throw notFoundError(message, 'KEY_FILE_NOT_FOUND');
    throw new Error(message);
  }
  const key = withClearErrors(() => parsePrivateKey(text, file));
  describeKey(key, file);
  return key;
}

function withClearErrors<T>(fn: () => T, decorate: (message: string, code: string) => string = (m) => m): T {
  try {
    return fn();
  } catch (error) {
    if (isDkimError(error)) throw new Error(decorate(error.message, error.code));
    throw error;
  }
}
