import type { KeyObject } from 'node:crypto';

/** A c= value: header canonicalization / body canonicalization (RFC 6376 3.4). */
export type Canonicalization = 'relaxed/relaxed' | 'relaxed/simple' | 'simple/relaxed' | 'simple/simple';

/** The signing algorithms, chosen by the key type. */
export type SigningAlgorithm = 'rsa-sha256' | 'ed25519-sha256';

/**
 * Header fields signed by default: those RFC 6376 5.4.1 lists, plus Message-ID, Sender and the MIME
 * fields that say how to read the body. Each is signed once per instance present.
 */
export const DEFAULT_SIGNED_HEADERS: readonly string[] = [
  'from',
  'reply-to',
  'subject',
  'date',
  'to',
  'cc',
  'resent-date',
  'resent-from',
  'resent-to',
  'resent-cc',
  'in-reply-to',
  'references',
  'list-id',
  'list-help',
  'list-unsubscribe',
  'list-subscribe',
  'list-post',
  'list-owner',
  'list-archive',
  'message-id',
  'sender',
  'mime-version',
  'content-type',
  'content-transfer-encoding',
];

/** One signature to add: who signs (d=, s=), with which key, and how. */
export interface SignatureOptions {
  /** d=: the signing domain (an IDN is converted to A-labels). */
  domain: string;
  /** s=: the selector; the key is published at `<selector>._domainkey.<domain>`. */
  selector: string;
  /** PEM (PKCS#8 or PKCS#1), DER, a KeyObject, or a base64 Ed25519 seed; RSA 1024-4096 bits or Ed25519. */
  privateKey: string | Uint8Array | KeyObject;
  /** c=, default 'relaxed/relaxed'. */
  canonicalization?: Canonicalization;
  /** Field names to sign (each instance present), default DEFAULT_SIGNED_HEADERS. */
  headers?: readonly string[];
  /** Field names listed once more than present so none can be added later (RFC 6376 8.15), default ['from']. */
  oversign?: readonly string[];
  /** i=: the agent or user identity, at the domain or a subdomain of it (e.g. "@example.com"). Not written by default. */
  identity?: string;
  /** t=: when the signature is made; default the signer's clock; `false` leaves t= out. */
  signedAt?: Date | false;
  /** x=: seconds after t= when the signature expires; not written by default. */
  expiresInSeconds?: number;
}

/** Options of a signer: the signatures to make in one pass, and limits. */
export interface SignerOptions {
  /** One or more signatures, written in this order (e.g. the author's domain, then the operator's). */
  signatures: readonly SignatureOptions[];
  /** Largest header block held (bytes), default 1 MiB: past it the signer throws HEADER_TOO_LARGE. */
  maxHeaderBytes?: number;
  /** The clock for t=: milliseconds since the epoch, default `Date.now`. */
  now?: () => number;
}

/** One signature made. */
export interface SignatureResult {
  domain: string;
  selector: string;
  algorithm: SigningAlgorithm;
  canonicalization: Canonicalization;
  /** The whole DKIM-Signature field, folded, without the final CRLF. */
  field: string;
  /** bh=: base64 SHA-256 of the canonical body. */
  bodyHash: string;
  /** The field names signed, as listed in h=. */
  signedHeaders: string[];
}

/** What the signer gives back at the end. */
export interface SignResult {
  /** Every DKIM-Signature field, each ending in CRLF: put this before the message as it was written. */
  header: string;
  signatures: SignatureResult[];
}
