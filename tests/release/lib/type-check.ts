// Type-checks, in the scratch projects, a file per package that imports every public export of
// it (every entry of its exports map), under moduleResolution nodenext, node16 and bundler, with
// the repository's TypeScript and @types/node and the packages as installed from the registry.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

/** The names an entry exports, split into values (present at run time) and types only. */
export interface EntryExports {
  specifier: string;
  values: string[];
  types: string[];
}

/** Reads the exports of each entry from its declaration file, as resolved for an ES module importer. */
export function entryExports(project: string, specifiers: string[]): EntryExports[] {
  const file = join(project, 'list-exports.mts');
  writeFileSync(file, specifiers.map((specifier, index) => `import * as e${index} from '${specifier}';`).join('\n'));
  const program = ts.createProgram([file], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file)!;
  return specifiers.map((specifier, index) => {
    const statement = source.statements[index] as ts.ImportDeclaration;
    const moduleSymbol = checker.getSymbolAtLocation(statement.moduleSpecifier);
    if (moduleSymbol === undefined) throw new Error(`${specifier}: no declarations found`);
    const values: string[] = [];
    const types: string[] = [];
    for (const symbol of checker.getExportsOfModule(moduleSymbol)) {
      const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
      (target.flags & ts.SymbolFlags.Value ? values : types).push(symbol.name);
    }
    return { specifier, values: values.sort(), types: types.sort() };
  });
}

const resolutions = {
  nodenext: { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext },
  node16: { module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16 },
  bundler: { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler },
} as const;

/** The moduleResolution settings the packages are checked under. */
export type Resolution = keyof typeof resolutions;

/** One package to check: its scratch project and its entries' exports. */
export interface CheckTarget {
  project: string;
  entries: EntryExports[];
}

// Parsed files are shared between the programs (lib.d.ts and @types/node are large).
const parsed = new Map<string, ts.SourceFile>();

function cachingHost(options: ts.CompilerOptions): ts.CompilerHost {
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, language, onError, fresh) => {
    const key = `${fileName}\0${typeof language === 'object' ? `${language.languageVersion}:${language.impliedNodeFormat}` : language}`;
    const cached = fresh || fileName.includes('/check-') ? undefined : parsed.get(key);
    if (cached) return cached;
    const file = read(fileName, language, onError, fresh);
    if (file) parsed.set(key, file);
    return file;
  };
  return host;
}

/**
 * The diagnostics (as `file: message`) of the import-everything files of `targets` under
 * `resolution`, and of the @homing declaration files they reach: an empty list when all check.
 */
export function typeCheck(targets: CheckTarget[], resolution: Resolution, repo: string): string[] {
  const files: string[] = [];
  for (const { project, entries } of targets) {
    // Each entry's names are imported under their own prefix: entries share names (SmtpError).
    const imports = entries.map((entry, index) => {
      const names = [
        ...entry.values.map((name) => `${name} as e${index}_${name}`),
        ...entry.types.map((name) => `type ${name} as e${index}_${name}`),
      ];
      const used = entry.values.map((name) => `e${index}_${name}`);
      return `import { ${names.join(', ')} } from '${entry.specifier}';\nexport const used${index}: unknown[] = [${used.join(', ')}];`;
    });
    const body = `${imports.join('\n')}\n`;
    // Under node16/nodenext both module formats: the .mts file is ESM, the .cts file CommonJS
    // (its imports become require() calls and resolve the "require" conditions).
    const own =
      resolution === 'bundler'
        ? [join(project, `check-${resolution}.ts`)]
        : [join(project, `check-${resolution}.mts`), join(project, `check-${resolution}.cts`)];
    for (const file of own) writeFileSync(file, body);
    files.push(...own);
  }
  const options: ts.CompilerOptions = {
    ...resolutions[resolution],
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2023.d.ts'],
    strict: true,
    noEmit: true,
    types: ['node'],
    typeRoots: [join(repo, 'node_modules', '@types')],
  };
  const program = ts.createProgram({ rootNames: files, options, host: cachingHost(options) });
  // Our files and the packages' own declarations are checked; @types/node and lib.d.ts are not
  // (as skipLibCheck would, but without skipping the @homing .d.ts files).
  const checked = program
    .getSourceFiles()
    .filter((file) => files.includes(file.fileName) || file.fileName.includes('/node_modules/@homing/'));
  const diagnostics = [
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...checked.flatMap((file) => [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)]),
  ];
  return diagnostics.slice(0, 30).map((diagnostic) => {
    const where = diagnostic.file
      ? `${diagnostic.file.fileName.split('/projects/')[1] ?? diagnostic.file.fileName}: `
      : '';
    return `${where}${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`;
  });
}
