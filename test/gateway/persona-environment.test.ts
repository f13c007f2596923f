// PERSONA.md `environment:` reaches the agent's container, inherited down the tree, never over warren's own
// variables (real Docker, the scripted harness reads its environment through {{env.NAME}}).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptMessage } from '../../gateway/inbound.js';
import type { Warren } from '../../gateway/warren.js';
import { startWarren, waitForOutbox } from '../helpers/warren.js';
import { tempTree, type TempTree } from '../helpers/tree.js';

const persona = (environment: string) => `---
harness: script
${environment}script:
  - match: "^show$"
    reply: "base=[{{env.MODEL_BASE_URL}}] shared=[{{env.SHARED}}] ca=[{{env.NODE_EXTRA_CA_CERTS}}] tenant=[{{env.WARREN_TENANT}}]"
---
`;

describe('PERSONA.md environment: in the container', () => {
  let tree: TempTree;
  let warren: Warren;
  const show = async (tenant: string) => {
    acceptMessage(warren.gated.store, warren.gated.registry, { tenant, text: 'show', sender: 'ann' });
    warren.loop.wake();
    return (await waitForOutbox(warren, tenant, (r) => (r.text ?? '').startsWith('base='))).text;
  };

  beforeAll(async () => {
    tree = tempTree({
      'acme/PERSONA.md': persona('environment:\n  MODEL_BASE_URL: http://model.internal:8000/v1\n  SHARED: from-acme\n'),
      'acme/a/PERSONA.md': persona('environment:\n  SHARED: from-a\n  NODE_EXTRA_CA_CERTS: /home/node/ca.pem\n'),
      'acme/b/PERSONA.md': persona(''),
    });
    warren = await startWarren(tree);
  });
  afterAll(async () => {
    await warren.stop();
    tree.cleanup();
  });

  it("a tenant's own values reach its container", async () => {
    expect(await show('acme')).toBe('base=[http://model.internal:8000/v1] shared=[from-acme] ca=[] tenant=[acme]');
  });

  it("a child inherits its parent's values and its own value wins", async () => {
    expect(await show('acme/a')).toBe('base=[http://model.internal:8000/v1] shared=[from-a] ca=[/home/node/ca.pem] tenant=[acme/a]');
    expect(await show('acme/b')).toBe('base=[http://model.internal:8000/v1] shared=[from-acme] ca=[] tenant=[acme/b]');
  });
});
