// Tool results that gated returns carry secret names, never values.
import { describe, expect, it } from 'vitest';
import { makeRedactor } from '../../core/secrets/index.js';
import { connectClient, textOf } from '../helpers/mcp.js';
import { useGated } from '../helpers/gated.js';

describe('redaction of tool results', () => {
  const f = useGated({
    gated: {
      redactorFor: (tenant) => (tenant === 'acme' ? makeRedactor(new Map([['DB_PASSWORD', 'hunter2-but-longer']])) : undefined),
    },
  });

  it('replaces secret values in results and in error messages', async () => {
    const acme = await connectClient(f.gated.socketPath('acme'));
    await acme.callTool({ name: 'observe_group', arguments: { source: 'acme/support' } });
    f.gated.store.addMessage({ tenant: 'acme/support', kind: 'chat', chat: 'tg:1', sender: 'eve', text: 'the password is hunter2-but-longer' });
    const result = await acme.callTool({ name: 'read_observed', arguments: {} });
    expect(JSON.stringify(result.structuredContent)).toContain('[secret:DB_PASSWORD]');
    expect(JSON.stringify(result.structuredContent)).not.toContain('hunter2-but-longer');
    const read = textOf(result);
    expect(read).toContain('the password is [secret:DB_PASSWORD]');
    expect(read).not.toContain('hunter2-but-longer');
    const failed = textOf(await acme.callTool({ name: 'fork_topic', arguments: { parent: 'hunter2-but-longer', child: 'x' } }));
    expect(failed).toContain('[secret:DB_PASSWORD]');
    expect(failed).not.toContain('hunter2-but-longer');
    await acme.close();
  });
});
