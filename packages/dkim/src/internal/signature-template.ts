// Renders the DKIM-Signature field (RFC 6376 3.5). The text up to and including "b=" is what gets
// hashed (3.7: the b= value is taken as empty), so it is rendered once, hashed, and the signature is
// appended after it; folding never changes the text before b=.

/** Tags in the order they are written; values are already valid tag values. */
export type SignatureTags = ReadonlyArray<readonly [name: string, value: string]>;

/** Turns the tags (without b=) into the folded field text ending in "b=". Replaceable for tests. */
export type TemplateRenderer = (tags: SignatureTags) => string;

const FIELD_NAME = 'DKIM-Signature: ';
const MAX_LINE = 76;

/** Default rendering: tags joined by "; ", folded before a tag when a line would pass 76 columns. */
export const renderTemplate: TemplateRenderer = (tags) => {
  let text = FIELD_NAME;
  let lineLength = FIELD_NAME.length;
  const all = [...tags, ['b', ''] as const];
  all.forEach(([name, value], index) => {
    const last = index === all.length - 1;
    const pieces = name === 'h' ? foldHeaderList(value, name) : [`${name}=${value}`];
    pieces.forEach((piece, pieceIndex) => {
      const suffix = pieceIndex === pieces.length - 1 ? (last ? '' : ';') : '';
      const addition = piece + suffix;
      const separator = pieceIndex === 0 ? ' ' : '';
      if (lineLength > FIELD_NAME.length && lineLength + separator.length + addition.length > MAX_LINE) {
        text += `\r\n ${addition}`;
        lineLength = 1 + addition.length;
      } else {
        const gap = lineLength === FIELD_NAME.length ? '' : separator;
        text += gap + addition;
        lineLength += gap.length + addition.length;
      }
    });
  });
  return text;
};

// h= may fold after any colon (RFC 6376 3.5, sig-h-tag allows FWS around ":"): the list is cut into
// pieces that each fit a line; later pieces begin with the colon-separated names that follow.
function foldHeaderList(value: string, name: string): string[] {
  const names = value.split(':');
  const pieces: string[] = [];
  let current = `${name}=`;
  for (let i = 0; i < names.length; i++) {
    const part = names[i] + (i < names.length - 1 ? ':' : '');
    if (current.length + part.length > MAX_LINE - 2 && current !== `${name}=`) {
      pieces.push(current);
      current = part;
    } else current += part;
  }
  pieces.push(current);
  return pieces;
}

/** Folds the base64 signature after "b=" into lines of at most 76 columns. */
export function appendSignatureValue(template: string, signature: string): string {
  const lastBreak = template.lastIndexOf('\r\n');
  let column = template.length - (lastBreak === -1 ? 0 : lastBreak + 2);
  let text = template;
  let offset = 0;
  while (offset < signature.length) {
    const room = MAX_LINE - column;
    if (room <= 0) {
      text += '\r\n ';
      column = 1;
      continue;
    }
    text += signature.slice(offset, offset + room);
    offset += room;
    column += room;
  }
  return text;
}
