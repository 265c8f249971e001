// Where a key path is in the YAML source, so every problem names its line and column.
import { type Document, isMap, isPair, isScalar, isSeq, type LineCounter, type Node } from 'yaml';

/** A 1-based line and column. */
export interface Position {
  line: number;
  column: number;
}

/** The key path as people write it: `tls.cert`, `listen.mx[1]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else text += text === '' ? String(segment) : `.${String(segment)}`;
  }
  return text;
}

/**
 * The position of the value at `path` (or of its key, with `key: true`). Where the path goes
 * further than the document (a missing key), the nearest node that exists is given.
 */
export function positionOf(
  document: Document,
  lines: LineCounter,
  path: readonly PropertyKey[],
  options: { key?: boolean } = {},
): Position {
  let node: unknown = document.contents;
  let found: Node | undefined = isNode(node) ? node : undefined;
  for (const [index, segment] of path.entries()) {
    const last = index === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find(
        (item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment),
      );
      if (pair === undefined) break;
      const keyNode = isNode(pair.key) ? pair.key : undefined;
      if (last && options.key && keyNode !== undefined) {
        found = keyNode;
        break;
      }
      node = pair.value;
      // `key:` with nothing after it has no value node: point at the key.
      found = isNode(node) && node.range !== undefined ? node : (keyNode ?? found);
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment];
      if (!isNode(node)) break;
      found = node;
    } else {
      break;
    }
  }
  const offset = found?.range?.[0] ?? 0;
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && 'range' in value;
}
