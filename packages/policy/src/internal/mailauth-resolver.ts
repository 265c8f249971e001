// mailauth asks DNS through a `resolver(name, rrtype)` function shaped like Node's
// dns.promises.resolve: TXT answers as arrays of character-strings, failures as errors with
// Node's codes. This adapter puts our Resolver (@homing/dns) behind that shape.
import { dnsFailureCode, type Resolver } from './resolver';

const nodeCodes: Record<string, string> = {
  NXDOMAIN: 'ENOTFOUND',
  NODATA: 'ENODATA',
  SERVFAIL: 'ESERVFAIL',
  TIMEOUT: 'ETIMEOUT',
  REFUSED: 'EREFUSED',
  FORMERR: 'EFORMERR',
  BADNAME: 'EBADNAME',
};

/** The resolver function mailauth takes. */
export type MailauthResolver = (name: string, rrtype: string) => Promise<string[][] | string[]>;

function nodeError(error: unknown, name: string, rrtype: string): Error {
  const code = dnsFailureCode(error);
  if (!code) return error as Error;
  const mapped = new Error(`query${rrtype} ${nodeCodes[code]} ${name}`, { cause: error }) as Error & {
    code: string;
    hostname: string;
  };
  mapped.code = nodeCodes[code] ?? code;
  mapped.hostname = name;
  return mapped;
}

/** Wraps our resolver as mailauth's `resolver(name, rrtype)` option. */
export function toMailauthResolver(resolver: Resolver, signal?: AbortSignal): MailauthResolver {
  const options = { signal };
  return async (name, rrtype) => {
    const type = rrtype.toUpperCase();
    try {
      switch (type) {
        case 'TXT':
          // Our TXT records are already joined (RFC 7208 3.3); one chunk each is the same text.
          return (await resolver.resolveTxt(name, options)).records.map((record) => [record]);
        case 'A':
          return (await resolver.resolveA(name, options)).records;
        case 'AAAA':
          return (await resolver.resolveAaaa(name, options)).records;
        case 'MX':
          return (await resolver.resolveMx(name, options)).records as unknown as string[];
        case 'PTR':
          return (await resolver.resolvePtr(name, options)).records;
        case 'CNAME':
          return (await resolver.resolveCname(name, options)).records;
        default: {
          const error = new Error(`record type ${rrtype} is not supported`) as Error & { code: string };
          error.code = 'ENOTIMP';
          throw error;
        }
      }
    } catch (error) {
      throw nodeError(error, name, type);
    }
  };
}
