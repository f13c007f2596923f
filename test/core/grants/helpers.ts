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

/**
 * Chat ids that read like `tg:100` (or another plain id) to a person but would compare as different to a deny rule;
 * the chat-id rule refuses each of them, in calls, rules and inbound messages alike. [label, id, what the refusal names]
 */
export const DISGUISED_CHAT_IDS: readonly [string, string, RegExp][] = [
  ['zero-width space (Cf)', 'tg:\u200b100', /U\+200B/],
  ['zero-width joiner (Cf)', 'tg:1\u200d00', /U\+200D/],
  ['soft hyphen (Cf)', 'tg:\u00ad100', /U\+00AD/],
  ['byte order mark inside (Cf)', 'tg:10\ufeff0', /U\+FEFF/],
  ['left-to-right mark (Cf)', 'tg:100\u200e', /U\+200E/],
  ['right-to-left override (Cf)', 'tg:\u202e001', /U\+202E/],
  ['bidi isolate (Cf)', 'tg:\u2066100\u2069', /U\+2066/],
  ['word joiner (Cf)', 'tg:\u2060100', /U\+2060/],
  ['C1 control (Cc)', 'tg:100\u0085', /U\+0085/],
  ['escape (Cc)', 'tg:\u001b100', /U\+001B/],
  ['line separator (Zl)', 'tg:1\u202800', /U\+2028/],
  ['paragraph separator (Zp)', 'tg:1\u202900', /U\+2029/],
  ['no-break space (Zs)', 'tg:\u00a0100', /U\+00A0/],
  ['ideographic space (Zs)', 'tg:\u3000100', /U\+3000/],
  ['ASCII space inside', 'tg: 100', /U\+0020/],
  ['unassigned code point (Cn)', 'tg:100\u0378', /U\+0378/],
  ['private use (Co)', 'tg:100\ue000', /U\+E000/],
  ['lone surrogate (Cs)', 'tg:100\ud800', /U\+D800/],
  ['variation selector (ignorable)', 'tg:1\ufe0f00', /U\+FE0F/],
  ['Hangul filler (ignorable)', 'tg:\u3164100', /U\+3164/],
  ['tag character (ignorable)', 'tg:100\u{E0041}', /U\+E0041/],
  ['variation selector supplement (ignorable)', 'tg:100\u{E0100}', /U\+E0100/],
  ['combining grapheme joiner (ignorable)', 'tg:1\u034f00', /U\+034F/],
  ['braille blank (renders as nothing)', 'tg:100\u2800', /U\+2800/],
  ['combining dot below on a digit (no NFKC form)', 'tg:10\u03230', /U\+0323.*"0"/],
  ['combining long solidus on a digit (no NFKC form)', 'tg:10\u03380', /U\+0338.*"0"/],
  ['full-width letters (NFKC)', '\uff54\uff47:100', /U\+FF54.*"t"/],
  ['full-width digits (NFKC)', 'tg:\uff11\uff10\uff10', /U\+FF11.*"1"/],
  ['ligature (NFKC)', 'slack:\ufb01nance', /U\+FB01.*"fi"/],
  ['superscript digit (NFKC)', 'tg:10\u2070', /U\+2070.*"0"/],
  ['decomposed accent (NFKC)', 'slack:cafe\u0301', /normal form NFKC \(that would be "slack:caf\u00e9"\)/],
  ['percent-encoded letter', 'tg:%31%30%30', /"%"/],
  ['percent-encoded zero-width space', 'tg:%E2%80%8B100', /"%"/],
  ['a lone percent sign', 'tg:100%', /"%"/],
];
