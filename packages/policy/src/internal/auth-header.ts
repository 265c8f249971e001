// RFC 8601: rendering the Authentication-Results header field.

/** RFC 8601 2.2 / RFC 5322 3.2.2: a comment, with its specials escaped. */
export function comment(text: string): string {
  return `(${text.replace(/[\\()]/g, '\\$&').replace(/[\r\n]+/g, ' ')})`;
}

/** RFC 8601 2.2 pvalue: a bare value when it is a token or an address of tokens, else quoted. */
export function propertyValue(value: string): string {
  if (/^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]*@?[A-Za-z0-9.\-_]+$/.test(value)) return value;
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/** The header field `Authentication-Results: host; res1; res2`, folded one result per line. */
export function renderAuthenticationResults(hostname: string, results: string[]): string {
  const body = results.length > 0 ? results : ['none'];
  return `Authentication-Results: ${hostname};\r\n ${body.join(';\r\n ')}`;
}
