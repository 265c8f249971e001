// Real peers for Homing's tests and benchmarks (private, never published): see README.md.
export { type CertificateFiles, certificateFiles, selfSignedCertificate } from './certificate';
export { type DkimpyVerdict, dkimpyVerify } from './dkimpy';
export { HOMING_BIN, type HomingRun, type RunHomingOptions, runHoming } from './homing';
export { freePort, lines, listeningPort, type RawServer, rawServer } from './net';
export {
  missingPeerFails,
  PEERS,
  type Peer,
  type PeerName,
  type PeerPolicyContext,
  skipWithoutPeers,
  skipWithoutPeersIn,
} from './peers';
export { type PostfixOptions, type PostfixServer, type QueuedMessage, startPostfix } from './postfix';
export { POSTFIX_DIR, postfixEnv, postfixProgram, REPO_ROOT, SMTP_SINK } from './repo';
export { runWithInput } from './run-with-input';
export { type SmtpSink, type SmtpSinkOptions, startSmtpSink } from './smtp-sink';
export { makeTestCertificates, type TestCertificates } from './test-ca';
