// Macro values for one evaluation (RFC 7208 7.3) and domain-spec expansion (RFC 7208 4.8).
import { reversedLabels } from '../ip-address';
import { SpfAbort, type SpfContext } from './context';
import { expandMacroString, type MacroToken, type MacroValues } from './macro';
import { validatedNameFor } from './validated-names';

/** The macro values while evaluating the record of `domain`. */
export function macroValues(context: SpfContext, domain: string): MacroValues {
  return (letter) => {
    switch (letter) {
      case 's':
        return context.sender;
      case 'l':
        return context.localPart;
      case 'o':
        return context.senderDomain;
      case 'd':
        return domain;
      case 'i':
        // RFC 7208 7.3: IPv4 in dotted form, IPv6 as dot-separated nibbles. Nibbles are upper
        // case as in the official suite's explanations (DNS names are case-insensitive anyway).
        return reversedLabels(context.ip).reverse().join('.').toUpperCase();
      case 'p':
        return validatedNameFor(context, domain);
      case 'v':
        return context.ip.family === 4 ? 'in-addr' : 'ip6';
      case 'h':
        return context.helo;
      case 'c':
        return context.ip.text;
      case 'r':
        return context.receiver;
      case 't':
        return String(Math.floor(context.now() / 1000));
      default:
        throw new SpfAbort('permerror', `unknown macro letter ${letter}`);
    }
  };
}

/**
 * Expands a domain-spec into the name to query: a trailing dot dropped, and labels removed from
 * the left until it fits in 253 octets (RFC 7208 4.8).
 */
export async function expandDomain(context: SpfContext, tokens: MacroToken[], domain: string): Promise<string> {
  let name = (await expandMacroString(tokens, macroValues(context, domain))).replace(/\.$/, '');
  while (name.length > 253 && name.includes('.')) name = name.slice(name.indexOf('.') + 1);
  if (name === '') throw new SpfAbort('permerror', 'a domain-spec expanded to an empty name');
  return name;
}
