// One question (a name and a type) being asked of the servers, shared by the callers who asked it meanwhile.
// The common case, the first server answering the first try, runs on callbacks: the UDP exchange reports
// straight to the question, which settles each caller's one Promise. Anything else (a timeout, a truncated
// answer, a server failure, EDNS refused) hands over to `ask`, the retry loop, as its first step's result.
import { DnsError, type DnsErrorCode } from '../dns-error';
import type { Logger } from '../logger';
import type { Answer } from '../resolver';
import { answerOf } from './answer';
import { interpret, type Outcome } from './interpret';
import type { ServerAddress } from './servers';
import { type Exchange, exchangeTcp, exchangeUdp, type Response, sendUdp, type UdpSink } from './transport';
import type { UdpPool } from './udp-pool';
import { encodeQuery } from './wire-name';

/** What a question needs of its resolver. */
export interface Asker {
  readonly pool: UdpPool;
  readonly timeoutMs: number;
  readonly tries: number;
  /** 0: no OPT record. */
  readonly ednsUdpSize: number;
  readonly logger: Logger | undefined;
  /** Whether outcomes are cached (then each caller gets a copy of the records). */
  readonly caching: boolean;
  /** The questions being asked; a question leaves it when it ends. */
  readonly inFlight: InFlight;
  servers(): ServerAddress[];
  /** Caches the outcome of a question. */
  remember(type: string, canonical: string, outcome: Outcome): void;
}

type Resolve = (answer: Answer<unknown>) => void;
type Reject = (error: unknown) => void;

/** A caller after the first, waiting on the same question. */
interface Caller {
  rawName: string;
  resolve: Resolve;
  reject: Reject;
}

/** The first try's exchange and how it ended, when that was not the end of the question. */
interface FirstTry {
  exchange: Exchange;
  response: Response | undefined;
  error: DnsError | undefined;
}

/**
 * The questions being asked, by type and canonical name, in plain dictionary objects rather than a Map: V8 links
 * each hash table a Map outgrows to the table that replaces it, so once a long-lived Map's table is in the old
 * generation (after any full GC), every later table, and the questions each held, survives the young-generation
 * GCs until the next full one. With a question added and removed per lookup, that was megabytes copied per
 * scavenge and a fifth of an uncached lookup's CPU time.
 */
export class InFlight {
  readonly #byType: Record<string, Record<string, Question> | undefined> = Object.create(null);

  get(type: string, canonical: string): Question | undefined {
    return this.#byType[type]?.[canonical];
  }

  set(type: string, canonical: string, question: Question): void {
    let questions = this.#byType[type];
    if (questions === undefined) {
      questions = Object.create(null) as Record<string, Question>;
      this.#byType[type] = questions;
    }
    questions[canonical] = question;
  }

  delete(type: string, canonical: string): void {
    const questions = this.#byType[type];
    if (questions !== undefined) delete questions[canonical];
  }
}

export class Question implements UdpSink {
  // The first caller is kept in fields (nearly every question has one caller), the others in `#more`.
  #rawName = '';
  #resolve: Resolve | undefined;
  #reject: Reject | undefined;
  #more: Caller[] | undefined;
  #exchange: Exchange | undefined;
  #ended = false;

  constructor(
    readonly asker: Asker,
    readonly canonical: string,
    readonly name: string,
    readonly type: string,
  ) {}

  /** The answer for one more caller, who asked `rawName` (the name as given, which the answer carries back). */
  wait(rawName: string): Promise<Answer<unknown>> {
    return new Promise((resolve, reject) => {
      if (this.#resolve === undefined) {
        this.#rawName = rawName;
        this.#resolve = resolve;
        this.#reject = reject;
      } else {
        this.#more ??= [];
        this.#more.push({ rawName, resolve, reject });
      }
    });
  }

  /** Sends the first try: the retry loop's first step (first server, EDNS0 as configured), without the loop. */
  start(): void {
    try {
      const asker = this.asker;
      const server = asker.servers()[0] as ServerAddress;
      const exchange = buildExchange(asker, server, this.name, this.type, asker.ednsUdpSize > 0);
      this.#exchange = exchange;
      sendUdp(exchange, asker.pool, this);
    } catch (error) {
      this.#fail(error);
    }
  }

  answered(response: Response): void {
    const rcode = response.rcode;
    if (response.truncated || (rcode !== 'NOERROR' && rcode !== 'NXDOMAIN')) {
      this.#retry({ exchange: this.#exchange as Exchange, response, error: undefined });
      return;
    }
    let outcome: Outcome;
    try {
      outcome = interpret(response, this.name, this.type);
    } catch (error) {
      this.#fail(error);
      return;
    }
    this.#finish(outcome);
  }

  failed(error: DnsError): void {
    this.#retry({ exchange: this.#exchange as Exchange, response: undefined, error });
  }

  #retry(first: FirstTry): void {
    ask(this.asker, this.name, this.type, first).then(
      (outcome) => this.#finish(outcome),
      (error: unknown) => this.#fail(error),
    );
  }

  /** Leaves the in-flight map, so that whatever happens the next caller asks afresh (never a stale share). */
  #end(): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    this.asker.pool.kept.question = this; // see KeptShapes
    const inFlight = this.asker.inFlight;
    if (inFlight.get(this.type, this.canonical) === this) inFlight.delete(this.type, this.canonical);
    return true;
  }

  #finish(outcome: Outcome): void {
    if (!this.#end()) return;
    const asker = this.asker;
    asker.remember(this.type, this.canonical, outcome);
    const more = this.#more;
    // Records are copied only when someone else holds them too: the cache, or another caller.
    const copy = asker.caching || more !== undefined;
    settle(this.#rawName, this.type, outcome, copy, this.#resolve, this.#reject);
    if (more !== undefined)
      for (const caller of more) settle(caller.rawName, this.type, outcome, copy, caller.resolve, caller.reject);
  }

  /** Something threw that should not have: every caller gets that error. */
  #fail(error: unknown): void {
    if (!this.#end()) return;
    this.#reject?.(error);
    if (this.#more !== undefined) for (const caller of this.#more) caller.reject(error);
  }
}

function settle(
  rawName: string,
  type: string,
  outcome: Outcome,
  copy: boolean,
  resolve: Resolve | undefined,
  reject: Reject | undefined,
): void {
  let answer: Answer<unknown>;
  try {
    answer = answerOf(rawName, type, outcome, copy);
  } catch (error) {
    reject?.(error);
    return;
  }
  resolve?.(answer);
}

function buildExchange(asker: Asker, server: ServerAddress, name: string, type: string, withEdns: boolean): Exchange {
  const id = 0; // set by the UDP pool, which knows which ids are in use on its socket
  const query = encodeQuery(id, name, type, withEdns ? asker.ednsUdpSize : 0);
  return { server, id, name, type, query, timeoutMs: asker.timeoutMs, logger: asker.logger };
}

/**
 * Asks the servers in turn, `tries` rounds, starting from the first try's result: TCP after a truncated answer
 * (RFC 7766 5), without EDNS0 after a FORMERR that has no OPT (RFC 6891 7), the next server after a failure.
 */
async function ask(asker: Asker, name: string, type: string, first: FirstTry): Promise<Outcome> {
  const logger = asker.logger;
  const servers = asker.servers();
  const failures = new Map<ServerAddress, DnsError>();
  let lastTimeout: DnsError | undefined;
  let withEdns = asker.ednsUdpSize > 0;
  let given: FirstTry | undefined = first;
  for (let attempt = 0; attempt < asker.tries; attempt++) {
    for (const server of servers) {
      if (failures.has(server)) continue;
      const exchange = given?.exchange ?? buildExchange(asker, server, name, type, withEdns);
      let response: Response;
      try {
        if (given !== undefined) {
          const result = given;
          given = undefined;
          if (result.error !== undefined) throw result.error;
          response = result.response as Response;
        } else response = await exchangeUdp(exchange, asker.pool);
        // RFC 7766 5 / RFC 1035 4.2.1: a truncated UDP answer is retried over TCP.
        if (response.truncated) {
          logger?.debug(
            { name, type, server: `${server.host}:${server.port}` },
            'dns answer truncated, asking over tcp',
          );
          response = await exchangeTcp({ ...exchange, query: Buffer.from(exchange.query) });
        }
      } catch (error) {
        logger?.debug(
          { name, type, server: `${server.host}:${server.port}`, error: (error as Error).message },
          'dns no usable answer from server',
        );
        if ((error as DnsError).code === 'FORMERR') failures.set(server, error as DnsError);
        else lastTimeout = error as DnsError;
        continue;
      }
      const rcode = response.rcode;
      if (rcode === 'NOERROR' || rcode === 'NXDOMAIN') return interpret(response, name, type);
      if (rcode === 'FORMERR' && withEdns && !response.hasOpt) {
        // RFC 6891 7: a server that does not know EDNS answers FORMERR without OPT; ask again without it.
        withEdns = false;
        attempt--;
        break;
      }
      const code: DnsErrorCode =
        rcode === 'SERVFAIL' || rcode === 'REFUSED' || rcode === 'FORMERR' ? rcode : 'SERVFAIL';
      failures.set(
        server,
        new DnsError(code, `${server.host}:${server.port} answered ${rcode} for ${name} ${type}`, {
          hostname: name,
          type,
        }),
      );
      logger?.debug({ name, type, server: `${server.host}:${server.port}`, rcode }, 'dns server failed the query');
    }
    if (failures.size === servers.length) break;
  }
  const failure = [...failures.values()].at(-1) ?? lastTimeout;
  return {
    kind: 'failure',
    error: failure ?? new DnsError('TIMEOUT', `no answer for ${name} ${type}`, { hostname: name, type }),
    negativeTtl: 0, // RFC 2308 7: server failures are not cached (remember() keeps no TTL of 0)
  };
}
