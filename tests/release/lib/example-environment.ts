// What the README examples need around them, all on loopback: a DNS server for the resolver
// address the examples name, an SMTP server where the delivery example's MX points, the message
// files they read. The code runs as the README gives it; only loopback ports are replaced by the
// ones this run got (127.0.0.1:5353 and :53 by the DNS server's, 2525 by a free port).
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer as createTcpServer } from 'node:net';
import { join } from 'node:path';
import { type DnsServer, startDnsServer } from '@homing/dns/testing';
import { createServer as createSmtpServer, type SmtpServer } from '@homing/smtp/server';
import { expect } from 'vitest';
import type { ReadmeExample } from './readme-examples';
import { run } from './run';

/** What one example printed. */
export interface ExampleOutput {
  title: string;
  stdout: string;
}

/** For one package: why its examples cannot run here (or nothing), and what their output must show. */
export interface ExamplePlan {
  skip?: string;
  check(outputs: ExampleOutput[], format: 'esm' | 'cjs'): void;
}

/** The running environment. */
export interface ExampleEnvironment {
  planFor(name: string, examples: number): ExamplePlan;
  runExamples(
    name: string,
    examples: ReadmeExample[],
    format: 'esm' | 'cjs',
    project: string,
  ): Promise<ExampleOutput[]>;
  close(): Promise<void>;
}

const message = 'From: alice@example.org\r\nTo: bob@example.net\r\nSubject: release test\r\n\r\nHello.\r\n';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createTcpServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Starts the DNS server, and the SMTP server on 127.0.0.1:25 when this process may bind it. */
export async function startExampleEnvironment(): Promise<ExampleEnvironment> {
  const dns: DnsServer = await startDnsServer({
    zones: {
      'example.com': { TXT: ['v=spf1 -all'] },
      'slow.example.com': { timeout: true },
      'example.org': { MX: [{ priority: 10, exchange: 'mx.example.org' }], TXT: ['v=spf1 -all'] },
      'mx.example.org': { A: ['127.0.0.1'] },
      'example.net': { MX: [{ priority: 10, exchange: 'mx.example.net' }] },
      'mx.example.net': { A: ['127.0.0.1'] },
      'in-addr.arpa': {},
      'zen.spamhaus.org': {},
    },
  });
  const dnsAddress = dns.address;
  // The delivery example sends to the MX of example.net on port 25, as delivery does by default.
  let mx: SmtpServer | undefined;
  let mxProblem: string | undefined;
  const received: string[] = [];
  const candidate = createSmtpServer({
    hostname: 'mx.example.net',
    hooks: {
      data: async (session, body) => {
        for await (const _chunk of body.body) {
          // drained: the example only needs the 250
        }
        received.push(session.envelope.to.map((to) => to.mailbox.address).join(','));
        return { action: 'accept' };
      },
    },
  });
  try {
    await candidate.listen({ host: '127.0.0.1', port: 25 });
    mx = candidate;
  } catch (error) {
    const code = (error as { cause?: NodeJS.ErrnoException }).cause?.code;
    if (code === 'EACCES' || code === 'EPERM') {
      mxProblem = 'the delivery example sends to port 25, which only root may listen on here (CI runs as root)';
    } else throw error;
  }
  const background: ChildProcess[] = [];

  const plans: Record<string, (examples: number) => ExamplePlan> = {
    '@homing/smtp': () => ({
      check: (outputs) => {
        expect(outputs.map((output) => output.title)).toEqual(['Runnable example (server)', 'Runnable example']);
        expect(outputs[0]!.stdout).toMatch(/^listening on \d+; Ctrl-C to stop/);
        // The server example relays for example.org only: the client example's recipients are refused.
        expect(outputs[1]!.stdout).toContain('rejected bob@example.net 550 Relaying denied');
      },
    }),
    '@homing/dns': () => ({
      check: ([output]) => {
        expect(output!.stdout).toContain("[ 'v=spf1 -all' ]");
        expect(output!.stdout).toContain('nope.example.com NXDOMAIN final');
        expect(output!.stdout).toContain('slow.example.com TIMEOUT try later');
      },
    }),
    '@homing/dkim': () => ({
      check: ([output]) =>
        expect(output!.stdout).toMatch(/^publish at mail\._domainkey\.example\.com: v=DKIM1; k=ed25519; p=/),
    }),
    '@homing/policy': () => ({
      check: ([output]) => {
        expect(output!.stdout).toContain('Authentication-Results: mx.example.net;');
        expect(output!.stdout).toContain('spf=fail');
      },
    }),
    '@homing/mta-sts': () => ({
      check: ([output]) => expect(output!.stdout).toBe('none example.org publishes no MTA-STS record\n'),
    }),
    '@homing/delivery': () =>
      mxProblem !== undefined
        ? { skip: mxProblem, check: () => {} }
        : {
            check: ([output]) => {
              expect(output!.stdout).toMatch(/^bob@example\.net delivered 250/);
              expect(received.at(-1)).toBe('bob@example.net');
            },
          },
    '@homing/queue': () => ({
      // The API example; the conformance-suite block (a backend you write) is not introduced as one.
      check: ([output]) => {
        expect(output!.stdout).toContain('example.net false');
        expect(output!.stdout).toContain("[ 'bob@example.net delivered', 'carol@example.com deferred' ]");
      },
    }),
    '@homing/mta': () => ({
      skip: 'an application: its README shows commands, which test/cli-release.test.ts runs from the installed bin',
      check: () => {},
    }),
  };

  return {
    planFor(name, examples) {
      const plan = plans[name]?.(examples);
      if (plan === undefined) throw new Error(`no plan for the README examples of ${name}: add one`);
      if (plan.skip === undefined && examples === 0) throw new Error(`${name}: its README has no example to run`);
      return plan;
    },
    async runExamples(name, examples, format, project) {
      writeFileSync(join(project, 'message.eml'), message);
      writeFileSync(join(project, 'msg.eml'), message);
      const smtpPort = String(await freePort());
      const outputs: ExampleOutput[] = [];
      for (const [index, example] of examples.entries()) {
        const code = (format === 'esm' ? example.esm : example.cjs)
          .replaceAll("'127.0.0.1:5353'", `'${dnsAddress}'`)
          .replaceAll("'127.0.0.1:53'", `'${dnsAddress}'`)
          .replaceAll('2525', smtpPort);
        const file = join(project, `example-${index}.${format === 'esm' ? 'mjs' : 'cjs'}`);
        writeFileSync(file, code);
        // The smtp server example runs until SIGINT: it is started, and the next example talks to it.
        if (name === '@homing/smtp' && index === 0) {
          const child = spawn(process.execPath, [file], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] });
          background.push(child);
          const stdout = await new Promise<string>((resolve, reject) => {
            let text = '';
            let errors = '';
            child.stdout.on('data', (chunk: Buffer) => {
              text += chunk.toString();
              if (text.includes('\n')) resolve(text);
            });
            child.stderr.on('data', (chunk: Buffer) => {
              errors += chunk.toString();
            });
            child.once('exit', (exitCode) => reject(new Error(`${example.title} exited ${exitCode}: ${errors}`)));
          });
          outputs.push({ title: example.title, stdout });
          continue;
        }
        const result = await run(process.execPath, [file], { cwd: project, timeoutMs: 30_000 });
        outputs.push({ title: example.title, stdout: result.stdout });
      }
      for (const child of background.splice(0)) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGINT');
        await exited;
      }
      return outputs;
    },
    async close() {
      for (const child of background.splice(0)) child.kill('SIGKILL');
      await mx?.close({ timeoutMs: 1000 });
      await dns.close();
    },
  };
}
