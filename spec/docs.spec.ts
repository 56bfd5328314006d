/**
 * The public API is documented: every export of lib/index.ts has a JSDoc comment with an
 * `@example`. One TypeScript program over lib/index.ts, no type-check of the whole project.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import ts from 'typescript';

const INDEX = fileURLToPath(new URL('../lib/index.ts', import.meta.url));

interface ExportDoc {
  name: string;
  doc: string;
  examples: string[];
}

function publicExports(): ExportDoc[] {
  // Only lib/ declarations and their comments matter here, never their types' correctness (that is
  // `npm run typecheck`): without the default lib, @types and dependencies' typings (about 120
  // files) the program is several times faster.
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    allowImportingTsExtensions: true,
    skipLibCheck: true,
    noLib: true,
    types: [],
    noEmit: true,
  };
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, ...rest) => (fileName.includes('/node_modules/') ? undefined : read(fileName, ...rest));
  const program = ts.createProgram([INDEX], options, host);
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(INDEX);
  assert.ok(source, `${INDEX} is not in the program`);
  const module = checker.getSymbolAtLocation(source);
  assert.ok(module, 'lib/index.ts has no module symbol');
  return checker.getExportsOfModule(module).map((exported) => {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    return {
      name: exported.name,
      doc: ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim(),
      examples: symbol
        .getJsDocTags(checker)
        .filter((tag) => tag.name === 'example')
        .map((tag) => ts.displayPartsToString(tag.text).trim()),
    };
  });
}

test('every public export has a doc comment with an @example', () => {
  const exports = publicExports();
  const names = exports.map((e) => e.name);
  // The program resolved the re-exports: a broken resolution must not pass with nothing to check.
  for (const name of ['openLedger', 'Ledger', 'LedgerError', 'LedgerOptions', 'verifyLedgerFile', 'FileCopyReplicator']) {
    assert.ok(names.includes(name), `lib/index.ts should export ${name}; found ${names.join(', ')}`);
  }

  const undocumented = exports.filter((e) => e.doc === '').map((e) => e.name);
  assert.deepEqual(undocumented, [], 'exports without a JSDoc description');

  const withoutExample = exports.filter((e) => !e.examples.some((text) => text.length > 0)).map((e) => e.name);
  assert.deepEqual(withoutExample, [], 'exports without an @example');
});

test('the API docs do not turn file names such as FORMAT.md into web links (.md is a top-level domain)', async () => {
  // typedoc renders comments and the README with markdown-it and the options of typedoc.json.
  // markdown-it is typedoc's dependency, without types here: imported by a name the compiler does not resolve.
  const markdownIt = 'markdown-it';
  const { default: MarkdownIt } = (await import(markdownIt)) as { default: new (options: object) => { render(text: string): string } };
  const config = JSON.parse(readFileSync(fileURLToPath(new URL('../typedoc.json', import.meta.url)), 'utf8')) as { markdownItOptions?: object };
  const sample = 'the exact bytes are in FORMAT.md and native-sql/FORMAT.md; see [the spec](https://example.org/x).';
  // With markdown-it's own linkify (typedoc's default), the check would see the bad link:
  assert.match(new MarkdownIt({ html: true, linkify: true }).render(sample), /href="http:\/\/FORMAT\.md"/);
  const html = new MarkdownIt(config.markdownItOptions ?? {}).render(sample);
  assert.doesNotMatch(html, /href="http:\/\/FORMAT\.md"|href="http:\/\/native-sql/);
  assert.match(html, /href="https:\/\/example\.org\/x"/, 'written links still render');
});
