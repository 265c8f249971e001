import { authPlainResponse } from './client-commands';
import type { Reply } from './reply';

/** Where an AUTH exchange stands: which reply we wait for. */
export type AuthStep = 'plain' | 'login-start' | 'login-user' | 'login-pass';

/** A line to send in the AUTH exchange, with the text to log in its place (no secrets). */
export interface AuthLine {
  line: string;
  logText: string;
  step: AuthStep;
}

interface Credentials {
  user: string;
  pass: string;
}

/** Picks the mechanism: the one asked for if offered, else PLAIN, else LOGIN; undefined when none fits. */
export function chooseAuthMechanism(
  offered: readonly string[],
  wanted?: 'PLAIN' | 'LOGIN',
): 'PLAIN' | 'LOGIN' | undefined {
  if (wanted) return offered.includes(wanted) ? wanted : undefined;
  if (offered.includes('PLAIN')) return 'PLAIN';
  if (offered.includes('LOGIN')) return 'LOGIN';
  return undefined;
}

/** The first AUTH command. PLAIN carries its initial response (RFC 4954 4) to save a round trip. */
export function authFirstStep(mechanism: 'PLAIN' | 'LOGIN', credentials: Credentials): AuthLine {
  if (mechanism === 'PLAIN') {
    return {
      line: `AUTH PLAIN ${authPlainResponse(credentials.user, credentials.pass)}`,
      logText: 'AUTH PLAIN ***',
      step: 'plain',
    };
  }
  return { line: 'AUTH LOGIN', logText: 'AUTH LOGIN', step: 'login-start' };
}

/**
 * What to do with a reply in the AUTH exchange: 235 ends it (RFC 4954 6), 334 asks for the
 * next LOGIN answer (username, then password, base64), anything else is a failure.
 */
export function authNextStep(step: AuthStep, reply: Reply, credentials: Credentials): AuthLine | 'done' | 'failed' {
  if (reply.code === 235) return 'done';
  if (reply.code !== 334) return 'failed';
  if (step === 'login-start') {
    return {
      line: Buffer.from(credentials.user, 'utf8').toString('base64'),
      logText: '*** (user)',
      step: 'login-user',
    };
  }
  if (step === 'login-user') {
    return { line: Buffer.from(credentials.pass, 'utf8').toString('base64'), logText: '***', step: 'login-pass' };
  }
  return 'failed';
}
