// Secret values an agent passes in tool arguments (replies, messages, prompts handed on) are replaced by their
// names before anything is stored or passed on.
import { describe, expect, it } from 'vitest';
import { makeRedactor } from '../../core/secrets/index.js';
import { connectClient } from '../helpers/mcp.js';
import { useGated } from '../helpers/gated.js';

const SECRET = 'sk-live-0123456789abcdef';

describe('secrets in tool arguments', () => {
  const f = useGated({
    gated: {
      redactorFor: (tenant) =>
        tenant === 'acme' || tenant === 'acme/support' ? makeRedactor(new Map([['API_KEY', SECRET]])) : undefined,
    },
  });

  it('a reply or send_message carrying the secret is queued with its name instead', async () => {
    f.gated.store.addMessage({ tenant: 'acme', kind: 'chat', chat: 'tg:42', sender: 'alice', text: 'what is your key?' });
    const acme = await connectClient(f.gated.socketPath('acme'));
    const r = await acme.callTool({ name: 'reply', arguments: { text: `sure, it is ${SECRET}` } });
    expect(r.isError).not.toBe(true);
    await acme.callTool({ name: 'send_message', arguments: { chat: 'tg:42', text: `again: ${SECRET}` } });
    const rows = f.gated.db.prepare("SELECT text FROM outbox WHERE tenant = 'acme'").all() as { text: string }[];
    await acme.close();
    expect(rows.length).toBe(2);
    for (const row of rows) {
      expect(row.text).not.toContain(SECRET);
      expect(row.text).toContain('[secret:API_KEY]');
    }
  });

  it("an escalation prompt reaches the parent's inbox without the child's secret", async () => {
    const support = await connectClient(f.gated.socketPath('acme/support'));
    await support.callTool({ name: 'escalate_group', arguments: { prompt: `please check ${SECRET}` } });
    await support.close();
    const row = f.gated.db.prepare("SELECT text FROM messages WHERE tenant = 'acme' AND kind = 'escalation'").get() as { text: string };
    expect(row.text).not.toContain(SECRET);
    expect(row.text).toContain('please check [secret:API_KEY]');
  });
});
