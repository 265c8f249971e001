// The built package, as `require` and `import` load it: the subpath entries must share one
// SmtpError class with the main entry (issue 18 item 4). tests/release checks the same from the
// packed tarball installed from a registry.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const require = createRequire(import.meta.url);

type Entry = {
  SmtpError: new (...args: never[]) => Error;
  createServer?: (options: object) => { listen(options: object): Promise<unknown> };
  SmtpClientError?: new (code: string, message: string) => Error;
};

async function load(format: 'cjs' | 'esm', name: string): Promise<Entry> {
  const file = `${dist}${name}.${format === 'cjs' ? 'cjs' : 'js'}`;
  return (format === 'cjs' ? require(file) : await import(file)) as Entry;
}

describe.each(['cjs', 'esm'] as const)('the built entry points under %s', (format) => {
  it('throw from @homing/smtp/server an error that is instanceof the SmtpError of @homing/smtp', async () => {
    const main = await load(format, 'index');
    const server = await load(format, 'server');
    const error = await server.createServer!({})
      .listen({ host: '127.0.0.1', port: 0, implicitTls: true })
      .then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
    expect((error as { code?: string }).code).toBe('SMTP_TLS_CONFIG');
    expect(error).toBeInstanceOf(main.SmtpError);
    expect(server.SmtpError).toBe(main.SmtpError);
  });

  it('give @homing/smtp/client an SmtpClientError that is the main entry one and an SmtpError', async () => {
    const main = (await load(format, 'index')) as Entry & { SmtpClientError: NonNullable<Entry['SmtpClientError']> };
    const client = await load(format, 'client');
    expect(client.SmtpClientError).toBe(main.SmtpClientError);
    expect(new client.SmtpClientError!('TIMEOUT', 'late')).toBeInstanceOf(main.SmtpError);
  });
});
