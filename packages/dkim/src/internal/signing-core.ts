// The signer: splits the header block off, feeds the body to one canonicalizer per body c= mode
// (signatures sharing a mode share one body hash), and signs the headers at the end.
import { createHash, type Hash, sign } from 'node:crypto';
import { DkimError } from '../dkim-error';
import type {
  Canonicalization,
  SignatureOptions,
  SignatureResult,
  SignerOptions,
  SigningAlgorithm,
  SignResult,
} from '../signature-options';
import { DEFAULT_SIGNED_HEADERS } from '../signature-options';
import { type BodyCanonicalization, BodyCanonicalizer } from './body-canonicalizer';
import { normalizeDomain, normalizeSelector } from './dns-name';
import { HeaderBlockReader, parseHeaderFields } from './header-block';
import {
  canonicalizeHeaderField,
  type HeaderCanonicalization,
  selectSignedFields,
  signedHeaderNames,
} from './header-canonicalization';
import { type LoadedKey, loadPrivateKey } from './private-key';
import { appendSignatureValue, renderTemplate, type SignatureTags, type TemplateRenderer } from './signature-template';

const DEFAULT_MAX_HEADER_BYTES = 1024 * 1024;
const CANONICALIZATIONS = new Set(['relaxed/relaxed', 'relaxed/simple', 'simple/relaxed', 'simple/simple']);

interface PreparedSignature {
  domain: string;
  selector: string;
  key: LoadedKey;
  algorithm: SigningAlgorithm;
  canonicalization: Canonicalization;
  headerMode: HeaderCanonicalization;
  bodyMode: BodyCanonicalization;
  headers: readonly string[];
  oversign: readonly string[];
  identity: string | undefined;
  signedAt: Date | false | undefined;
  expiresInSeconds: number | undefined;
}

/** A signature whose data is ready to sign. */
interface PendingSignature {
  signature: PreparedSignature;
  template: string;
  names: string[];
  bodyHash: string;
  data: Buffer;
}

interface BodyHasher {
  canonicalizer: BodyCanonicalizer;
  hash: Hash;
}

/** Test seams: a different template renderer (to reproduce published examples to the byte). */
export interface SigningCoreHooks {
  renderTemplate?: TemplateRenderer;
}

export class SigningCore {
  private readonly signatures: PreparedSignature[];
  private readonly now: () => number;
  private readonly render: TemplateRenderer;
  private readonly bodies = new Map<BodyCanonicalization, BodyHasher>();
  private headerReader: HeaderBlockReader | undefined;
  private headerBlock: Buffer | undefined;
  private finished = false;

  constructor(options: SignerOptions, hooks: SigningCoreHooks = {}) {
    if (!options || !Array.isArray(options.signatures) || options.signatures.length === 0) {
      throw new DkimError(
        'INVALID_OPTION',
        'signatures must list at least one signature ({ domain, selector, privateKey })',
      );
    }
    const maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
    if (!Number.isInteger(maxHeaderBytes) || maxHeaderBytes < 1) {
      throw new DkimError('INVALID_OPTION', `maxHeaderBytes must be a positive integer, not ${maxHeaderBytes}`);
    }
    this.signatures = options.signatures.map(prepareSignature);
    this.now = options.now ?? Date.now;
    this.render = hooks.renderTemplate ?? renderTemplate;
    this.headerReader = new HeaderBlockReader(maxHeaderBytes);
    for (const signature of this.signatures) {
      if (this.bodies.has(signature.bodyMode)) continue;
      const hash = createHash('sha256');
      this.bodies.set(signature.bodyMode, {
        hash,
        canonicalizer: new BodyCanonicalizer(signature.bodyMode, (bytes) => hash.update(bytes)),
      });
    }
  }

  update(chunk: Uint8Array | string): void {
    if (this.finished) throw new DkimError('SIGNER_FINISHED', 'update() after final(): make a new signer per message');
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : toBuffer(chunk);
    if (this.headerReader) {
      const done = this.headerReader.write(bytes);
      if (!done) return;
      this.headerReader = undefined;
      this.headerBlock = done.header;
      for (const part of done.body) this.writeBody(part);
      return;
    }
    this.writeBody(bytes);
  }

  final(): SignResult {
    return this.finish(this.prepareFinal().map((pending) => signData(pending.signature, pending.data)));
  }

  /**
   * As final(), with the private-key operations on libuv's thread pool (`crypto.sign` with a
   * callback): an RSA-2048 signature costs a few hundred microseconds that the event loop then
   * spends on other sessions.
   */
  async finalAsync(): Promise<SignResult> {
    const pending = this.prepareFinal();
    const values = await Promise.all(pending.map((one) => signDataAsync(one.signature, one.data)));
    return this.finish(values, pending);
  }

  private pending: PendingSignature[] = [];

  /** Ends the body hashes and builds each signature's template and the data it signs. */
  private prepareFinal(): PendingSignature[] {
    if (this.finished)
      throw new DkimError('SIGNER_FINISHED', 'final() was already called: make a new signer per message');
    this.finished = true;
    if (this.headerReader) {
      this.headerBlock = this.headerReader.finish();
      this.headerReader = undefined;
    }
    const bodyHashes = new Map<BodyCanonicalization, string>();
    for (const [mode, body] of this.bodies) {
      body.canonicalizer.end();
      bodyHashes.set(mode, body.hash.digest('base64'));
    }
    const fields = parseHeaderFields(this.headerBlock ?? Buffer.alloc(0));
    this.headerBlock = undefined;
    const signedAtDefault = new Date(this.now());
    this.pending = this.signatures.map((signature) => {
      const bodyHash = bodyHashes.get(signature.bodyMode)!;
      const names = signedHeaderNames(fields, signature.headers, signature.oversign);
      const selected = selectSignedFields(fields, names);
      const signedAt = signature.signedAt === undefined ? signedAtDefault : signature.signedAt;
      const tags = buildTags(signature, names, bodyHash, signedAt);
      const template = this.render(tags);
      let data = '';
      for (const field of selected) {
        if (field) data += `${canonicalizeHeaderField(field.raw, signature.headerMode)}\r\n`;
      }
      data += canonicalizeHeaderField(template, signature.headerMode);
      return { signature, template, names, bodyHash, data: Buffer.from(data, 'latin1') };
    });
    return this.pending;
  }

  /** The fields from the signature values, in the order of the signatures. */
  private finish(values: string[], pending = this.pending): SignResult {
    this.pending = [];
    const results = pending.map(({ signature, template, names, bodyHash }, index) => {
      const result: SignatureResult = {
        domain: signature.domain,
        selector: signature.selector,
        algorithm: signature.algorithm,
        canonicalization: signature.canonicalization,
        field: appendSignatureValue(template, values[index]!),
        bodyHash,
        signedHeaders: names,
      };
      return result;
    });
    return { header: results.map((result) => `${result.field}\r\n`).join(''), signatures: results };
  }

  private writeBody(bytes: Buffer): void {
    if (bytes.length === 0) return;
    for (const body of this.bodies.values()) body.canonicalizer.write(bytes);
  }
}

function signData(signature: PreparedSignature, data: Buffer): string {
  if (signature.algorithm === 'rsa-sha256') return sign('sha256', data, signature.key.key).toString('base64');
  // RFC 8463 3: Ed25519 (pure) over the SHA-256 hash of the canonical data.
  const digest = createHash('sha256').update(data).digest();
  return sign(null, digest, signature.key.key).toString('base64');
}

function signDataAsync(signature: PreparedSignature, data: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const done = (error: Error | null, value: Buffer) => (error ? reject(error) : resolve(value.toString('base64')));
    if (signature.algorithm === 'rsa-sha256') sign('sha256', data, signature.key.key, done);
    else sign(null, createHash('sha256').update(data).digest(), signature.key.key, done);
  });
}

function buildTags(
  signature: PreparedSignature,
  names: string[],
  bodyHash: string,
  signedAt: Date | false,
): SignatureTags {
  const tags: [string, string][] = [
    ['v', '1'],
    ['a', signature.algorithm],
    ['c', signature.canonicalization],
    ['d', signature.domain],
    ['s', signature.selector],
  ];
  if (signature.identity !== undefined) tags.push(['i', signature.identity]);
  if (signedAt !== false) {
    const t = Math.floor(signedAt.getTime() / 1000);
    tags.push(['t', String(t)]);
    if (signature.expiresInSeconds !== undefined) tags.push(['x', String(t + signature.expiresInSeconds)]);
  } else if (signature.expiresInSeconds !== undefined) {
    throw new DkimError('INVALID_OPTION', 'expiresInSeconds needs t= (signedAt must not be false)');
  }
  tags.push(['h', names.join(':')]);
  tags.push(['bh', bodyHash]);
  return tags;
}

function prepareSignature(options: SignatureOptions, index: number): PreparedSignature {
  if (!options || typeof options !== 'object') {
    throw new DkimError('INVALID_OPTION', `signatures[${index}] must be an object { domain, selector, privateKey }`);
  }
  const domain = normalizeDomain(options.domain);
  const selector = normalizeSelector(options.selector);
  const key = loadPrivateKey(options.privateKey);
  const canonicalization = options.canonicalization ?? 'relaxed/relaxed';
  if (!CANONICALIZATIONS.has(canonicalization)) {
    throw new DkimError(
      'INVALID_OPTION',
      `canonicalization "${canonicalization}" is not one of relaxed/relaxed, relaxed/simple, simple/relaxed, simple/simple`,
    );
  }
  const [headerMode, bodyMode] = canonicalization.split('/') as [HeaderCanonicalization, BodyCanonicalization];
  const headers = checkNames(options.headers ?? DEFAULT_SIGNED_HEADERS, 'headers');
  if (!headers.some((name) => name.toLowerCase() === 'from')) {
    throw new DkimError('INVALID_OPTION', 'headers must include "from": RFC 6376 5.4 requires From to be signed');
  }
  const oversign = checkNames(options.oversign ?? ['from'], 'oversign');
  const identity = options.identity === undefined ? undefined : checkIdentity(options.identity, domain);
  const expiresInSeconds = options.expiresInSeconds;
  if (expiresInSeconds !== undefined && (!Number.isInteger(expiresInSeconds) || expiresInSeconds <= 0)) {
    throw new DkimError('INVALID_OPTION', `expiresInSeconds must be a positive integer, not ${expiresInSeconds}`);
  }
  const signedAt = options.signedAt;
  if (
    signedAt !== undefined &&
    signedAt !== false &&
    !(signedAt instanceof Date && !Number.isNaN(signedAt.getTime()))
  ) {
    throw new DkimError('INVALID_OPTION', 'signedAt must be a valid Date or false');
  }
  return {
    domain,
    selector,
    key,
    algorithm: key.algorithm === 'rsa' ? 'rsa-sha256' : 'ed25519-sha256',
    canonicalization,
    headerMode,
    bodyMode,
    headers,
    oversign,
    identity,
    signedAt,
    expiresInSeconds,
  };
}

function checkNames(names: readonly string[], option: string): readonly string[] {
  if (names === DEFAULT_SIGNED_HEADERS) return names; // checked once, by the tests
  if (
    !Array.isArray(names) ||
    names.some((name) => typeof name !== 'string' || !/^[\x21-\x39\x3b-\x7e]+$/.test(name))
  ) {
    throw new DkimError('INVALID_OPTION', `${option} must be a list of header field names (printable, no colon)`);
  }
  return names;
}

// RFC 6376 3.5 i=: [local-part] "@" domain, where domain is d= or a subdomain of it.
function checkIdentity(identity: string, domain: string): string {
  const at = identity.lastIndexOf('@');
  const identityDomain = at === -1 ? '' : identity.slice(at + 1).toLowerCase();
  const local = at === -1 ? '' : identity.slice(0, at);
  if (at === -1 || /[\s;]/.test(local) || !(identityDomain === domain || identityDomain.endsWith(`.${domain}`))) {
    throw new DkimError(
      'INVALID_OPTION',
      `identity "${identity}" must be [local]@${domain} or @ a subdomain of ${domain}`,
    );
  }
  return identity;
}

function toBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}
