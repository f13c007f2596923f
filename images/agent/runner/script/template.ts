// Reply and argument templates of the script harness. One pass over the template text: text substituted in (a
// message, a tool result) is never expanded again, so a message saying "{{result}}" or "$1" stays literal.
//
//   $0..$9          capture groups of the rule's match ($0 = the whole match); a group that did not take part is ""
//   $$              a literal "$"
//   {{sender}} {{chat}} {{kind}} {{text}}   of the message being answered ({{chat}} is "" when there is none)
//   {{tenant}} {{topic}}                    of the turn
//   {{result}}      text of the last tool call's result in this rule ("" before any call)
//   {{error}}       "yes" when that result was an error (a denial, a failed call), else ""
//   {{env.NAME}}    the harness environment variable NAME ("" when unset)

export const NAMED_PLACEHOLDERS = ['sender', 'chat', 'kind', 'text', 'tenant', 'topic', 'result', 'error'] as const;
export type NamedPlaceholder = (typeof NAMED_PLACEHOLDERS)[number];

const TOKEN = /\$(\$|\d)|\{\{\s*([^{}\s]*)\s*\}\}/g;
const ENV_REF = /^env\.([A-Za-z_][A-Za-z0-9_]*)$/;

export interface TemplateContext {
  groups: readonly (string | undefined)[];
  named: Readonly<Record<NamedPlaceholder, string>>;
  env: Readonly<Record<string, string | undefined>>;
}

/** The first problem with a template's placeholders, or null. */
export function templateProblem(text: string): string | null {
  for (const m of text.matchAll(TOKEN)) {
    const name = m[2];
    if (name === undefined) continue;
    if ((NAMED_PLACEHOLDERS as readonly string[]).includes(name) || ENV_REF.test(name)) continue;
    return `unknown placeholder "{{${name}}}" (known: ${NAMED_PLACEHOLDERS.map((n) => `{{${n}}}`).join(' ')} {{env.NAME}} $0..$9 $$)`;
  }
  return null;
}

export function expandTemplate(text: string, ctx: TemplateContext): string {
  return text.replace(TOKEN, (whole, dollar: string | undefined, name: string | undefined) => {
    if (dollar === '$') return '$';
    if (dollar !== undefined) return ctx.groups[Number(dollar)] ?? '';
    if (name === undefined) return whole;
    const env = ENV_REF.exec(name);
    if (env) return ctx.env[env[1]!] ?? '';
    return Object.hasOwn(ctx.named, name) ? ctx.named[name as NamedPlaceholder] : whole;
  });
}

/** Expands every string inside a JSON-like value (tool arguments); other values pass through unchanged. */
export function expandDeep(value: unknown, ctx: TemplateContext): unknown {
  if (typeof value === 'string') return expandTemplate(value, ctx);
  if (Array.isArray(value)) return value.map((v) => expandDeep(v, ctx));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = expandDeep(v, ctx);
    return out;
  }
  return value;
}

/** Every string inside a JSON-like value, with where it is (for validation messages). */
export function* stringsIn(value: unknown, path: (string | number)[] = []): Generator<{ path: (string | number)[]; text: string }> {
  if (typeof value === 'string') yield { path, text: value };
  else if (Array.isArray(value)) for (const [i, v] of value.entries()) yield* stringsIn(v, [...path, i]);
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) yield* stringsIn(v, [...path, k]);
}
