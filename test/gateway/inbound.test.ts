// Inbound messages are held to the one chat-id rule of core, for the chat and for the sender.
import { describe, expect, it } from 'vitest';
import { InboundSchema } from '../../gateway/inbound.js';
import { DISGUISED_CHAT_IDS } from '../core/grants/helpers.js';

const issues = (input: unknown) => {
  const r = InboundSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('InboundSchema: chat ids and senders', () => {
  it.each(DISGUISED_CHAT_IDS)('refuses a chat id with a %s', (_label, id, names) => {
    const found = issues({ tenant: 'acme', text: 'hi', chat: id });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^chat: /);
    expect(found[0]).toMatch(names);
  });

  it.each(DISGUISED_CHAT_IDS)('refuses a sender with a %s', (_label, id, names) => {
    const found = issues({ tenant: 'acme', text: 'hi', sender: id.replace('tg:', 'bob') });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^sender: /);
    expect(found[0]).toMatch(names);
  });

  it('a sender is taken as given, so it may not have spaces around it', () => {
    expect(issues({ tenant: 'acme', text: 'hi', sender: ' bob' })).toEqual(['sender: a sender has no spaces around it']);
  });

  it('accepts plain ids', () => {
    expect(issues({ tenant: 'acme', text: 'hi', chat: ' TG:100 ', sender: 'bob' })).toEqual([]);
    expect(issues({ tenant: 'acme', text: 'hi' })).toEqual([]);
  });
});
