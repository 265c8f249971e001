// The runnable examples of a package README: the ```js/```ts blocks that a heading or a line
// saying "example" introduces, as an ES module and converted to CommonJS.

/** One example, in both module formats. */
export interface ReadmeExample {
  /** The heading or line that introduces it, to name it in test output. */
  title: string;
  esm: string;
  cjs: string;
}

/** The examples of a README, in order. */
export function readmeExamples(readme: string): ReadmeExample[] {
  const lines = readme.split('\n');
  const examples: ReadmeExample[] = [];
  for (let index = 0; index < lines.length; index++) {
    if (!/^```(js|ts|javascript|typescript)\s*$/.test(lines[index]!)) continue;
    const end = lines.indexOf('```', index + 1);
    const code = lines.slice(index + 1, end).join('\n');
    // The nearest non-empty line before the block says what it is.
    let intro = index - 1;
    while (intro > 0 && lines[intro]!.trim() === '') intro--;
    const said = lines[intro] ?? '';
    const heading = [...lines.slice(0, index)].reverse().find((line) => line.startsWith('#')) ?? '';
    if (/example/i.test(said) || /example/i.test(heading)) {
      examples.push({ title: heading.replace(/^#+\s*/, ''), esm: code, cjs: toCommonJs(code) });
    }
    index = end;
  }
  return examples;
}

/** The same code as CommonJS: imports become require() calls, the body an async function. */
export function toCommonJs(code: string): string {
  const requires: string[] = [];
  const body = code.replace(
    /^import\s+(?:(\w+)|\*\s+as\s+(\w+)|\{([^}]*)\})\s+from\s+'([^']+)';?$/gms,
    (_all, single: string | undefined, namespace: string | undefined, named: string | undefined, from: string) => {
      if (named !== undefined) {
        const names = named
          .split(',')
          .map((part) => part.replace(/\/\/.*$/gm, '').trim())
          .filter((part) => part !== '' && !part.startsWith('type '))
          .map((part) => part.replace(/\s+as\s+/, ': '));
        requires.push(`const { ${names.join(', ')} } = require('${from}');`);
      } else requires.push(`const ${single ?? namespace} = require('${from}');`);
      return '';
    },
  );
  return `'use strict';\n${requires.join('\n')}\n(async () => {\n${body}\n})().catch((error) => {\n  console.error(error);\n  process.exitCode = 1;\n});\n`;
}
