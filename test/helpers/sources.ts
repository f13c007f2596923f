// The repository's own sources as data, for the tests that hold the code to its structure (test/layers.test.ts):
// every non-test .ts file, what each imports (with its line) and the string literals it contains. Parsed with the
// TypeScript compiler's parser, so an import spread over lines or a type-only import is seen like any other.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** Folders that never hold sources of warren itself. */
const SKIPPED = new Set(['node_modules', 'dist', 'test', 'tenants', 'data', 'docs']);

export interface ImportRef {
  /** The module specifier as written; null for a dynamic import() whose argument is not a string literal. */
  specifier: string | null;
  line: number;
}

export interface StringRef {
  text: string;
  line: number;
}

export interface SourceFile {
  /** Repository-relative, '/'-separated. */
  path: string;
  imports: ImportRef[];
  strings: StringRef[];
}

/** Every .ts file of the repository outside test/ (and build output), repository-relative, sorted. */
export function sourcePaths(root = REPO): string[] {
  return filePaths(root, (name) => name.endsWith('.ts') && !name.endsWith('.d.ts'));
}

/** Script files in the same places that are not .ts (JavaScript, or TypeScript the checks do not read). */
export function otherScriptPaths(root = REPO): string[] {
  return filePaths(root, (name) => /\.(?:[cm]?js|jsx|tsx|[cm]ts)$/.test(name) && !name.endsWith('.d.ts') && !name.endsWith('.d.mts') && !name.endsWith('.d.cts'));
}

function filePaths(root: string, wanted: (name: string) => boolean): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const full = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (dir === root && SKIPPED.has(entry.name)) continue;
        if (entry.name === 'node_modules') continue;
        walk(full);
      } else if (wanted(entry.name)) {
        out.push(relative(root, full).split(sep).join('/'));
      }
    }
  };
  walk(root);
  return out.sort();
}

/** The imports and string literals of one file's text. PURE. */
export function parseSource(path: string, text: string): SourceFile {
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const lineOf = (node: ts.Node) => file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1;
  const imports: ImportRef[] = [];
  const strings: StringRef[] = [];
  const literal = (node: ts.Node | undefined) => (node && ts.isStringLiteralLike(node) ? node.text : null);
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
      imports.push({ specifier: literal(node.moduleSpecifier), line: lineOf(node) });
      return; // the specifier is not a string of the program's own
    }
    if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      imports.push({ specifier: literal(node.moduleReference.expression), line: lineOf(node) });
      return;
    }
    if (ts.isCallExpression(node) && (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require'))) {
      imports.push({ specifier: literal(node.arguments[0]), line: lineOf(node) });
      return;
    }
    if (ts.isImportTypeNode(node)) {
      const arg = node.argument;
      imports.push({ specifier: ts.isLiteralTypeNode(arg) ? literal(arg.literal) : null, line: lineOf(node) });
    }
    if (ts.isStringLiteralLike(node)) strings.push({ text: node.text, line: lineOf(node) });
    if (ts.isTemplateExpression(node)) {
      // `a ${x} b` reads as "a ? b": enough to see a statement's table or a path's prefix.
      strings.push({ text: node.head.text + node.templateSpans.map((s) => `?${s.literal.text}`).join(''), line: lineOf(node) });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return { path, imports, strings };
}

export function readSources(root = REPO): SourceFile[] {
  return sourcePaths(root).map((p) => parseSource(p, readFileSync(join(root, p), 'utf8')));
}
