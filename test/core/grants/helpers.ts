// Small builders shared by the grant tests.
import { parseGrants } from '../../../core/grants/parse.js';
import type { DecisionContext, Rule } from '../../../core/grants/types.js';

export const FILE = '/srv/warren/tenants/acme/grants';

/** Parses grants text as tenants/acme/grants, failing loudly on any error. */
export function rules(text: string, tenant = 'acme', file = `/srv/warren/tenants/${tenant}/grants`): Rule[] {
  const r = parseGrants(text, file, tenant);
  if (r.errors.length > 0) throw new Error(r.errors.map((e) => `${e.line}: ${e.message}`).join('\n'));
  return r.rules;
}

export function rule(text: string): Rule {
  const [r] = rules(text);
  if (!r) throw new Error(`no rule in ${JSON.stringify(text)}`);
  return r;
}

export const routedTo = (...chats: string[]): DecisionContext => ({ isRoutedChat: (c) => chats.includes(c) });
