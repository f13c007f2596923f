// Parser for a tenant's `grants` file: one rule per line, `[!]tool_glob[(pred, pred, ...)]`. Tool and argument
// names must exist (core/grants/tool-args.ts).
// It never throws on any input: every problem becomes a ConfigError with file and line, and a file with any error
// yields no rules at all (its caller keeps the last good rules), so a typo can never half-apply.
import type { ConfigError } from '../config-error.js';
import type { TenantPath } from '../tenant-path.js';
import { canonicalArgGlob } from './canonical.js';
import { ruleNamesProblem } from './tool-args.js';
import type { ArgPredicate, Rule, RuleSource } from './types.js';

export const MAX_LINE_BYTES = 4 * 1024;
export const MAX_FILE_BYTES = 1024 * 1024;
/** The only `$` value. */
export const ROUTED = '$routed';

const TOOL_GLOB = /^[a-z0-9_*]+$/;
const ARG_NAME = /^[a-z_][a-z0-9_]*$/;
const ARG_NAME_CHAR = /[a-z0-9_]/;
// Tabs are whitespace; every other control character is an error rather than something to guess about.
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;

export interface ParseResult {
  /** Empty whenever `errors` is not. */
  rules: Rule[];
  errors: ConfigError[];
}

export type RuleParse = { ok: true; rule: Rule } | { ok: false; error: string };

/** Parses a whole grants file. `file` is the path reported in errors and rule sources. */
export function parseGrants(text: string, file: string, tenant: TenantPath): ParseResult {
  if (typeof text !== 'string') return { rules: [], errors: [{ file, line: 0, message: 'grants file is not text' }] };
  if (Buffer.byteLength(text, 'utf8') > MAX_FILE_BYTES) {
    return { rules: [], errors: [{ file, line: 0, message: `grants file is larger than ${MAX_FILE_BYTES} bytes` }] };
  }
  const rules: Rule[] = [];
  const errors: ConfigError[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    const line = i + 1;
    const parsed = parseFileLine(raw, { kind: 'file', file, line, tenant });
    if (parsed === null) continue;
    if (parsed.ok) rules.push(parsed.rule);
    else errors.push({ file, line, message: parsed.error });
  }
  return errors.length > 0 ? { rules: [], errors } : { rules, errors };
}

/** Parses one rule as written (comments allowed), e.g. the argument of the `grant` tool. Blank is an error. */
export function parseRuleText(text: string, source: RuleSource): RuleParse {
  if (typeof text !== 'string') return { ok: false, error: 'a rule must be text' };
  if (/[\r\n]/.test(text)) return { ok: false, error: 'a rule is a single line' };
  return parseLine(text, source) ?? { ok: false, error: 'empty rule' };
}

/** One line: null when blank or comment only. */
function parseLine(raw: string, source: RuleSource): RuleParse | null {
  if (Buffer.byteLength(raw, 'utf8') > MAX_LINE_BYTES) {
    return { ok: false, error: `line is longer than ${MAX_LINE_BYTES} bytes` };
  }
  const control = CONTROL.exec(raw);
  if (control) {
    const code = control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
    return { ok: false, error: `line contains a control character (U+${code})` };
  }
  const text = stripComment(raw).trim();
  if (text.length === 0) return null;
  return new LineParser(text, source).rule();
}

/** A grants file line for the tenant's workers: `worker: <rule>` (docs/grants.md#workers). */
export const WORKER_PREFIX = 'worker:';

/** One line of a grants file: a rule, or a `worker:` rule. */
function parseFileLine(raw: string, source: RuleSource): RuleParse | null {
  const trimmed = raw.trimStart();
  if (!trimmed.startsWith(WORKER_PREFIX)) return parseLine(raw, source);
  const parsed = parseLine(trimmed.slice(WORKER_PREFIX.length), source);
  if (parsed === null) return { ok: false, error: `"${WORKER_PREFIX}" needs a rule after it, e.g. "${WORKER_PREFIX} !send_message"` };
  // The prefix stays in the text, so `grant` appends and `revoke` finds the line as written, and denials name it.
  return parsed.ok ? { ok: true, rule: { ...parsed.rule, text: `${WORKER_PREFIX} ${parsed.rule.text}`, role: 'worker' } } : parsed;
}

/**
 * Removes a trailing comment: `#` outside a quoted value that starts the line or follows whitespace. Unquoted
 * values cannot hold whitespace, so `chat=slack:#general` keeps its `#` and `reply  # why` loses the comment.
 */
export function stripComment(line: string): string {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') {
      quoted = true;
    } else if (c === '#' && (i === 0 || /\s/.test(line[i - 1] ?? ''))) {
      return line.slice(0, i);
    }
  }
  return line;
}

class ParseError extends Error {}

class LineParser {
  private i = 0;

  constructor(
    private readonly s: string,
    private readonly source: RuleSource,
  ) {}

  rule(): RuleParse {
    try {
      return { ok: true, rule: this.parse() };
    } catch (error) {
      if (error instanceof ParseError) return { ok: false, error: error.message };
      throw error;
    }
  }

  private parse(): Rule {
    let effect: Rule['effect'] = 'allow';
    if (this.peek() === '!') {
      effect = 'deny';
      this.i++;
      if (this.atEnd() || /\s/.test(this.peek())) this.fail('expected a tool name right after "!"');
    }
    const toolStart = this.i;
    while (!this.atEnd() && this.peek() !== '(' && !/\s/.test(this.peek())) this.i++;
    const tool = this.s.slice(toolStart, this.i);
    if (tool.length === 0) this.fail('missing tool name before "("');
    if (!TOOL_GLOB.test(tool)) {
      this.fail(`invalid tool name "${tool}": tool names use lowercase letters, digits, "_" and the glob "*"`);
    }
    this.skipSpace();
    const args: ArgPredicate[] = [];
    if (!this.atEnd()) {
      if (this.peek() !== '(') {
        this.fail(`unexpected "${this.rest()}" after tool name (arguments go in parentheses: ${tool}(arg=value))`);
      }
      this.i++;
      this.parseArgs(args);
      this.skipSpace();
      if (!this.atEnd()) this.fail(`unexpected "${this.rest()}" after ")"`);
    }
    // A misspelt name would make the rule match nothing: a deny that never denies. It is an error instead.
    const names = ruleNamesProblem(tool, args.map((a) => a.name));
    if (names) this.fail(names);
    return { text: this.s, effect, tool, args, source: this.source };
  }

  private parseArgs(args: ArgPredicate[]): void {
    this.skipSpace();
    if (this.atEnd()) this.fail('unterminated "(": missing ")"');
    if (this.peek() === ')') this.fail('empty argument list "()": drop the parentheses to match any arguments');
    for (;;) {
      this.skipSpace();
      const pred = this.parsePredicate();
      if (args.some((a) => a.name === pred.name)) this.fail(`duplicate argument "${pred.name}"`);
      args.push(pred);
      this.skipSpace();
      if (this.atEnd()) this.fail('unterminated "(": missing ")"');
      const c = this.peek();
      this.i++;
      if (c === ')') return;
      if (c !== ',') this.fail(`expected "," or ")" after argument "${pred.name}", found "${c}"`);
      this.skipSpace();
      if (this.peek() === ')') this.fail('trailing "," in argument list');
    }
  }

  private parsePredicate(): ArgPredicate {
    if (this.atEnd()) this.fail('unterminated "(": missing ")"');
    const absent = this.peek() === '!';
    if (absent) this.i++;
    const name = this.parseName();
    if (absent) return { name, kind: 'absent' };
    if (this.peek() !== '=') {
      this.fail(`expected "=" after argument "${name}" (write ${name}=value, or !${name} for "must be absent")`);
    }
    this.i++;
    if (this.atEnd() || /[\s,()]/.test(this.peek())) this.fail(`missing value for argument "${name}"`);
    if (this.peek() === '"') return this.match(name, this.parseQuoted(name));
    const start = this.i;
    while (!this.atEnd() && !/[\s,()"]/.test(this.peek())) this.i++;
    const value = this.s.slice(start, this.i);
    if (this.peek() === '"') {
      this.fail(`unknown argument value syntax for "${name}": quote the whole value, e.g. ${name}="a b"`);
    }
    if (value.startsWith('$')) {
      if (value !== ROUTED) this.fail(`unknown variable "${value}" (only ${ROUTED} exists; quote the value to mean it literally)`);
      if (name !== 'chat') this.fail(`${ROUTED} is only valid for chat`);
      return { name, kind: 'routed' };
    }
    return this.match(name, value);
  }

  private match(name: string, value: string): ArgPredicate {
    const canon = canonicalArgGlob(name, value);
    if (!canon.ok) this.fail(`argument "${name}": ${canon.error}`);
    return { name, kind: 'match', glob: canon.glob };
  }

  private parseName(): string {
    const start = this.i;
    while (!this.atEnd() && ARG_NAME_CHAR.test(this.peek())) this.i++;
    const name = this.s.slice(start, this.i);
    if (name.length === 0) {
      const found = this.atEnd() ? 'end of line' : `"${this.peek()}"`;
      this.fail(`expected an argument name, found ${found}`);
    }
    if (!ARG_NAME.test(name)) this.fail(`invalid argument name "${name}": must start with a lowercase letter or "_"`);
    return name;
  }

  private parseQuoted(name: string): string {
    this.i++; // opening quote
    let out = '';
    for (;;) {
      if (this.atEnd()) this.fail(`unterminated quoted value for argument "${name}"`);
      const c = this.peek();
      this.i++;
      if (c === '"') break;
      if (c === '\\') {
        const next = this.peek();
        if (next !== '"' && next !== '\\') {
          this.fail(`unknown escape "\\${next}" in quoted value for "${name}" (only \\" and \\\\ are escapes)`);
        }
        out += next;
        this.i++;
      } else {
        out += c;
      }
    }
    if (!this.atEnd() && !/[\s,)]/.test(this.peek())) {
      this.fail(`unknown argument value syntax for "${name}": nothing may follow the closing quote`);
    }
    return out;
  }

  private peek(): string {
    return this.s[this.i] ?? '';
  }

  private atEnd(): boolean {
    return this.i >= this.s.length;
  }

  private rest(): string {
    const r = this.s.slice(this.i);
    return r.length > 40 ? `${r.slice(0, 40)}…` : r;
  }

  private skipSpace(): void {
    while (!this.atEnd() && /\s/.test(this.peek())) this.i++;
  }

  private fail(message: string): never {
    throw new ParseError(message);
  }
}
