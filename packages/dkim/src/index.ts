// Public API of @homing/dkim: exported by name, nothing else.

/** Checks the key record published in DNS against the private key. */
export {
  type CheckPublishedKeyOptions,
  checkPublishedKey,
  type PublishedKeyReport,
  type PublishedKeyStatus,
  type TxtResolver,
} from './check-published-key';
/** The package's error class, its codes, and a check that works across duplicate installs. */
export { DkimError, type DkimErrorCode, isDkimError } from './dkim-error';
/** Key generation, reading a private key, and the record to publish for it. */
export {
  describeKey,
  type GeneratedKey,
  type GenerateKeyOptions,
  generateKey,
  type KeyAlgorithm,
  type KeyRecordInfo,
  keyRecordNameFor,
  parsePrivateKey,
} from './keys';
/** Signing options and results, and the default list of signed header fields. */
export {
  type Canonicalization,
  DEFAULT_SIGNED_HEADERS,
  type SignatureOptions,
  type SignatureResult,
  type SignerOptions,
  type SigningAlgorithm,
  type SignResult,
} from './signature-options';
/** A streaming signer (update/final), and one-shot signing of a buffer or a stream. */
export { createSigner, type DkimSigner, signMessage, signStream } from './signer';
