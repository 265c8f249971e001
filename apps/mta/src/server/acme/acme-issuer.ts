// One order with the CA (RFC 8555 7.4): the account (registered once, its key kept), the order
// for the names, each authorization's http-01 challenge answered by our own responder, then the
// CSR of a fresh key. acme-client does the protocol (JWS, nonces, badNonce retries, polling);
// the order is driven step by step rather than by its `auto()`, whose CSR parsing needs
// @peculiar/x509 (see certificate-request.ts).
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import type { AcmeConfig } from '../../config/config-types';
import { certificateRequestPem, createCertificateRequest } from './certificate-request';
import type { AcmeStore } from './certificate-store';
import type { HttpChallengeServer } from './http-challenge-server';

/** Obtains a certificate for `names` (the first is its common name) and stores it; resolves its PEMs. */
export async function issueCertificate(options: {
  acme: AcmeConfig;
  names: readonly string[];
  store: AcmeStore;
  challenges: HttpChallengeServer;
  onChallenge?: (name: string, type: string) => void;
}): Promise<{ key: string; cert: string }> {
  const { store, challenges } = options;
  let account = await store.readAccount();
  if (account === undefined) {
    // The key is kept before the account exists, so a crash mid-registration reuses it.
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    account = { key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
    await store.writeAccount({ key: account.key, url: '' });
  }
  // Loaded when an order runs: acme-client (axios, node-forge, @peculiar/x509) costs every other
  // `homing` command a second of start-up otherwise.
  const acme = await import('acme-client');
  const client = new acme.Client({
    directoryUrl: options.acme.directory,
    accountKey: account.key,
    ...(account.url ? { accountUrl: account.url } : {}),
  });
  // RFC 8555 7.3: registering an existing key returns its account, so this is safe to repeat.
  await client.createAccount({ termsOfServiceAgreed: true, contact: [`mailto:${options.acme.email}`] });
  if (!account.url) await store.writeAccount({ key: account.key, url: client.getAccountUrl() });

  const order = await client.createOrder({
    identifiers: options.names.map((value) => ({ type: 'dns', value })),
  });
  const authorizations = await client.getAuthorizations(order);
  const tokens: string[] = [];
  try {
    for (const authorization of authorizations) {
      if (authorization.status === 'valid') continue;
      const challenge = authorization.challenges.find((candidate) => candidate.type === 'http-01');
      if (challenge === undefined) {
        throw new Error(`the CA offers no http-01 challenge for ${authorization.identifier.value}`);
      }
      const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
      challenges.set(challenge.token, keyAuthorization);
      tokens.push(challenge.token);
      options.onChallenge?.(authorization.identifier.value, challenge.type);
      // No self-check first: it would go through the system resolver, which need not see what
      // the CA sees (split horizon, NAT); the CA's validation is the check.
      await client.completeChallenge(challenge);
    }
    for (const authorization of authorizations) await client.waitForValidStatus(authorization);
  } finally {
    for (const token of tokens) challenges.remove(token);
  }

  // RSA 2048 for the certificate: what every SMTP client takes (some old ones do no ECDSA).
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const csr = certificateRequestPem(createCertificateRequest(options.names, privateKey));
  const finalized = await client.finalizeOrder(order, csr);
  const cert = await client.getCertificate(finalized);
  const pems = { key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), cert };
  // A certificate that does not fit its key would break every handshake: refuse it before storing.
  createPrivateKey(pems.key);
  await store.writeCertificate(pems);
  return pems;
}
