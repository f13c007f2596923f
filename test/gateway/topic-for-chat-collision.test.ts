// Two chat ids never share a topic, not even when one is spelled like the other's topic.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { topicForChat } from '../../gateway/inbound.js';

describe('topicForChat', () => {
  it('gives two different chats two different topics', () => {
    const victim = 'local:ann/ops';
    const h = createHash('sha256').update(victim).digest('hex').slice(0, 8);
    const other = `local:ann_ops-${h}`; // a valid chat id (no spaces or control characters)
    expect(other).not.toBe(victim);
    expect(topicForChat(other)).not.toBe(topicForChat(victim));
  });
});
