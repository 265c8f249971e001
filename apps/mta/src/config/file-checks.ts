// The files a config names: they must exist, be readable and hold what the key says. Messages
// are in plain words (never OpenSSL's), each saying what to give instead.
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';

/** Reads a file the config names, or says why it cannot be read and what to give instead. */
async function readNamed(path: string, wanted: string): Promise<string | { problem: string }> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { problem: `file ${path} does not exist; give the path of ${wanted}` };
    if (code === 'EISDIR') return { problem: `${path} is a directory; give the path of ${wanted} file` };
    if (code === 'EACCES' || code === 'EPERM') {
      return {
        problem: `file ${path} cannot be read (permission denied); make it readable by the user homing runs as`,
      };
    }
    return { problem: `file ${path} cannot be read (${code ?? String(error)}); give the path of ${wanted}` };
  }
}

/** What is wrong with the certificate and key files, by key (`cert`, `key`); empty when both are good. */
export async function checkTls(certPath: string, keyPath: string): Promise<{ cert?: string; key?: string }> {
  const problems: { cert?: string; key?: string } = {};
  const certText = await readNamed(certPath, 'a PEM certificate');
  const keyText = await readNamed(keyPath, 'a PEM private key');
  let certificate: X509Certificate | undefined;
  let key: KeyObject | undefined;
  if (typeof certText !== 'string') problems.cert = certText.problem;
  else if (!certText.includes('-----BEGIN')) {
    problems.cert = `file ${certPath} is not PEM (no -----BEGIN line); give a PEM certificate (openssl x509 -inform der -in FILE converts DER)`;
  } else if (!certText.includes('-----BEGIN CERTIFICATE-----')) {
    problems.cert = certText.includes('PRIVATE KEY-----')
      ? `file ${certPath} holds a private key, not a certificate; did you swap tls.cert and tls.key?`
      : `file ${certPath} holds no -----BEGIN CERTIFICATE----- block; give a PEM certificate`;
  } else {
    try {
      certificate = new X509Certificate(certText);
    } catch {
      problems.cert = `file ${certPath} does not hold a valid certificate (its CERTIFICATE block cannot be decoded); give a PEM certificate`;
    }
  }
  if (typeof keyText !== 'string') problems.key = keyText.problem;
  else if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(keyText)) {
    problems.key = `the private key in ${keyPath} is protected by a passphrase; give it unencrypted (openssl pkey -in FILE -out NEW)`;
  } else if (!/-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/.test(keyText)) {
    problems.key = keyText.includes('-----BEGIN CERTIFICATE-----')
      ? `file ${keyPath} holds a certificate, not a private key; did you swap tls.cert and tls.key?`
      : `file ${keyPath} holds no PEM private key (-----BEGIN PRIVATE KEY-----); give the certificate's key`;
  } else {
    try {
      key = createPrivateKey(keyText);
    } catch {
      problems.key = `file ${keyPath} does not hold a valid private key (its PEM block cannot be decoded); give the certificate's key`;
    }
  }
  if (certificate !== undefined && key !== undefined && !certificate.checkPrivateKey(key)) {
    problems.key = `the key in ${keyPath} does not match the certificate in ${certPath}; give the key the certificate was made for`;
  }
  return problems;
}

/** Why the users file cannot be used, or undefined when it is a readable file. */
export async function checkUsersFile(path: string): Promise<string | undefined> {
  const text = await readNamed(path, 'the users file (create it with homing user add ADDRESS --users FILE)');
  return typeof text === 'string' ? undefined : text.problem;
}

/** Why the state directory cannot be used, or undefined (it need not exist yet: the server makes it). */
export async function checkStateDirectory(path: string): Promise<string | undefined> {
  const info = await stat(path).catch(() => undefined);
  if (info !== undefined && !info.isDirectory()) return `${path} exists and is not a directory; give a directory`;
  return undefined;
}
