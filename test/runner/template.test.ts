import { describe, expect, it } from 'vitest';
import { expandDeep, expandTemplate, templateProblem, type TemplateContext } from '../../images/agent/runner/script/template.js';

const ctx: TemplateContext = {
  groups: ['ask bob now', 'bob', undefined],
  named: { sender: 'local:ann', chat: 'local:ann', kind: 'chat', text: 'ask bob now', tenant: 'acme', topic: 'main', result: 'R', error: 'yes' },
  env: { TOKEN: 'tok', EMPTY: '' },
};

describe('script templates', () => {
  it.each([
    ['$0', 'ask bob now'],
    ['hi $1!', 'hi bob!'],
    ['[$2][$7]', '[][]'], // a group that did not take part, and one that does not exist
    ['$$1 costs $$', '$1 costs $'],
    ['{{sender}}|{{chat}}|{{kind}}|{{text}}|{{tenant}}|{{topic}}', 'local:ann|local:ann|chat|ask bob now|acme|main'],
    ['{{ result }} err={{error}}', 'R err=yes'],
    ['{{env.TOKEN}}/{{env.EMPTY}}/{{env.UNSET}}', 'tok//'],
    ['no placeholders', 'no placeholders'],
    ['$a {{', '$a {{'],
  ])('%s -> %s', (template, expected) => {
    expect(expandTemplate(template, ctx)).toBe(expected);
  });

  it('never expands text that was substituted in', () => {
    const tricky: TemplateContext = { ...ctx, groups: ['{{result}} $1', '$0 {{env.TOKEN}}'], named: { ...ctx.named, result: '{{text}} $1' } };
    expect(expandTemplate('$1|{{result}}', tricky)).toBe('$0 {{env.TOKEN}}|{{text}} $1');
  });

  it('expands strings at any depth of tool arguments and leaves other values alone', () => {
    expect(expandDeep({ group: '$1', n: 3, ok: true, none: null, list: ['{{tenant}}', 1, { deep: '{{kind}}' }] }, ctx)).toEqual({
      group: 'bob',
      n: 3,
      ok: true,
      none: null,
      list: ['acme', 1, { deep: 'chat' }],
    });
  });

  it.each([
    ['{{nope}}', /unknown placeholder "\{\{nope\}\}"/],
    ['{{}}', /unknown placeholder "\{\{\}\}"/],
    ['{{env.}}', /unknown placeholder/],
    ['{{env.1X}}', /unknown placeholder/],
    ['{{Result}}', /unknown placeholder/],
  ])('refuses %s', (template, problem) => {
    expect(templateProblem(template)).toMatch(problem);
  });

  it.each(['$0 $9 $$', '{{sender}} {{ result }} {{env.API_TOKEN}}', 'plain', '{ not } {single}'])('accepts %s', (template) => {
    expect(templateProblem(template)).toBeNull();
  });
});
