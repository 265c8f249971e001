// One pass over a message: DKIM signatures and the ARC chain (mailauth, reading the stream
// once), our SPF evaluation alongside, then DMARC, rendered as Authentication-Results (RFC 8601).
import { Readable } from 'node:stream';
import { arc, dkimVerify } from 'mailauth';
import { checkDmarc, type DmarcResult } from './check-dmarc';
import { checkSpf, type SpfResult } from './check-spf';
import { PolicyError } from './errors';
import { findArcSealSyntaxError } from './internal/arc-seal-syntax';
import { comment, propertyValue, renderAuthenticationResults } from './internal/auth-header';
import { toMailauthResolver } from './internal/mailauth-resolver';
import type { Resolver } from './internal/resolver';
import { unsignedHeaderFrom } from './internal/unsigned-message';
import type { Logger } from './logger';

/** What authenticate looks at: the SMTP session's identities and the message. */
export interface AuthenticateInput {
  /** The client's IP address. */
  ip: string;
  /** The HELO/EHLO name. */
  helo: string;
  /** The MAIL FROM address; empty or null for the null reverse-path. */
  sender?: string | null;
  /** The message (header and body, CRLF or LF line ends): a stream, async iterable of bytes, Buffer or string. */
  message: Readable | AsyncIterable<Uint8Array> | Buffer | string;
  /** Our host name, the authserv-id of the header (RFC 8601 2.5). */
  hostname: string;
  /**
   * The SPF result of this ip, helo and sender when the caller has it already (from the MAIL FROM
   * phase): it is used as given, and SPF is not evaluated again.
   */
  spf?: SpfResult;
}

/** Options of authenticate. */
export interface AuthenticateOptions {
  /** The resolver to query (the `Resolver` of @homing/dns). */
  resolver: Resolver;
  /** Smallest RSA key accepted for DKIM and ARC, in bits (default 1024). */
  minBitLength?: number;
  /** A number in [0, 1) for DMARC pct= sampling (default Math.random). */
  random?: () => number;
  /** Structured logger (pino-compatible): one debug line per message. */
  logger?: Logger;
  signal?: AbortSignal;
}

/** One DKIM signature's verdict. */
export interface DkimSignatureResult {
  /** RFC 8601 result: pass, fail, neutral, policy, temperror, permerror. */
  result: string;
  /** The d= signing domain. */
  domain: string;
  selector?: string;
  algorithm?: string;
  /** Why, when not pass. */
  reason?: string;
}

/** The ARC chain's verdict (RFC 8617 5.2): none, pass or fail. */
export interface ArcChainResult {
  result: 'none' | 'pass' | 'fail';
  /** The highest instance number of the chain, when there is one. */
  instance?: number;
  reason?: string;
}

/** Everything authenticate found, and the header to add. */
export interface AuthenticationResults {
  spf: SpfResult;
  dkim: DkimSignatureResult[];
  arc: ArcChainResult;
  /** Absent when the message has no single From address to evaluate. */
  dmarc?: DmarcResult;
  /** The `Authentication-Results: ...` header field (folded, no final CRLF). */
  header: string;
}

function toStream(message: AuthenticateInput['message']): Readable | Buffer | string {
  if (typeof message === 'string' || Buffer.isBuffer(message) || message instanceof Readable) return message;
  return Readable.from(message);
}

/** Runs SPF, DKIM, ARC and DMARC on a message and renders the Authentication-Results header. */
export async function authenticate(
  input: AuthenticateInput,
  options: AuthenticateOptions,
): Promise<AuthenticationResults> {
  if (!input.hostname) throw new PolicyError('BAD_INPUT', 'hostname (our host name for the header) is required');
  const resolver = toMailauthResolver(options.resolver, options.signal);
  const spfCheck = input.spf
    ? Promise.resolve(input.spf)
    : checkSpf(
        { ip: input.ip, helo: input.helo, sender: input.sender },
        { resolver: options.resolver, hostname: input.hostname, signal: options.signal },
      );
  // A message without DKIM or ARC header fields has nothing to verify: skip mailauth's parse.
  const message = input.message;
  const unsignedFrom =
    Buffer.isBuffer(message) || typeof message === 'string' ? unsignedHeaderFrom(message) : undefined;
  const [spf, verified] = await Promise.all([
    spfCheck,
    unsignedFrom
      ? { results: [], arc: undefined, headerFrom: unsignedFrom, headers: { parsed: [] } }
      : dkimVerify(toStream(message), { resolver, minBitLength: options.minBitLength, sender: input.sender ?? '' }),
  ]);
  const arcOutcome = unsignedFrom
    ? { status: { result: 'none' }, i: 0, info: undefined }
    : await arc(verified.arc as never, { resolver, minBitLength: options.minBitLength });

  const dkim: DkimSignatureResult[] = verified.results
    .filter((row) => row.signingDomain)
    .map((row) => {
      const status = row.status as { result: string; comment?: string | boolean };
      return {
        result: status.result,
        domain: row.signingDomain,
        selector: row.selector,
        algorithm: (row as { algo?: string }).algo,
        reason: typeof status.comment === 'string' ? status.comment : undefined,
      };
    });
  const arcStatus = arcOutcome.status as { result: string; comment?: string | boolean };
  const sealLines = (verified.headers?.parsed ?? [])
    .filter((row) => row.key === 'arc-seal')
    .map((row) => String(row.line));
  const sealError = findArcSealSyntaxError(sealLines);
  const arcResult: ArcChainResult = sealError
    ? { result: 'fail', instance: arcOutcome.i || undefined, reason: sealError }
    : {
        result: arcStatus.result === 'pass' || arcStatus.result === 'fail' ? arcStatus.result : 'none',
        instance: arcOutcome.i || undefined,
        reason: typeof arcStatus.comment === 'string' ? arcStatus.comment : undefined,
      };

  const from = verified.headerFrom ?? [];
  const spfDomain = spf.result === 'pass' ? spf.sender.slice(spf.sender.lastIndexOf('@') + 1) : undefined;
  const dmarc =
    from.length === 1
      ? await checkDmarc(
          {
            from: from[0] as string,
            spfDomain,
            dkimDomains: dkim.filter((row) => row.result === 'pass').map((row) => row.domain),
          },
          { resolver: options.resolver, random: options.random, signal: options.signal },
        )
      : undefined;

  const lines: string[] = [];
  const identity =
    spf.identity === 'helo' ? `smtp.helo=${propertyValue(input.helo)}` : `smtp.mailfrom=${propertyValue(spf.sender)}`;
  lines.push(`spf=${spf.result} ${comment(`${input.hostname}: ${spf.reason}`)} ${identity}`);
  const dkimRows = verified.results.filter((row) => row.signingDomain && row.info);
  if (dkimRows.length === 0) lines.push('dkim=none');
  for (const row of dkimRows) lines.push(row.info.replace(/\r?\n\s*/g, ' '));
  lines.push(
    sealError || !arcOutcome.info
      ? `arc=${arcResult.result}${arcResult.reason ? ` ${comment(arcResult.reason)}` : ''}`
      : arcOutcome.info.replace(/\r?\n\s*/g, ' '),
  );
  if (dmarc) {
    const policyComment = dmarc.policy
      ? ` ${comment(`p=${dmarc.policy.toUpperCase()} dis=${dmarc.disposition.toUpperCase()}`)}`
      : '';
    lines.push(`dmarc=${dmarc.result}${policyComment} header.from=${propertyValue(dmarc.domain)}`);
  }
  const header = renderAuthenticationResults(input.hostname, lines);
  options.logger?.debug(
    { check: 'authenticate', ip: input.ip, results: lines.map((line) => line.split(' ')[0]) },
    'message authenticated',
  );
  return { spf, dkim, arc: arcResult, dmarc, header };
}
