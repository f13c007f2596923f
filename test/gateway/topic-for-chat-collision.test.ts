// Two chat ids never share a topic, not even when one is spelled like the other's topic.
import { describe, expect, it } from 'vitest';
import { TOPIC } from '../../gated/tools/topics.js';
import { topicForChat } from '../../gateway/inbound.js';

describe('topicForChat', () => {
  it('gives a chat spelled like another chat\'s topic a topic of its own', () => {
    // The attack: name your chat exactly what the victim's chat maps to. Built from what the code produces, so it
    // stays a real attempt whatever the hash length.
    let victim = 'local:ann/ops';
    for (let i = 0; i < 3; i++) {
      const impostor = topicForChat(victim); // a valid chat id (no spaces or control characters)
      expect(impostor).not.toBe(victim);
      expect(topicForChat(impostor)).not.toBe(topicForChat(victim));
      victim = impostor;
    }
  });

  it('never hands a chat id back as its own topic, even one that is a valid topic name', () => {
    for (const chat of ['ops', 'local:ann', 'telegram:12345', topicForChat('local:bob')]) {
      expect(TOPIC.test(chat)).toBe(true);
      expect(topicForChat(chat)).not.toBe(chat);
    }
  });

  it('gives chats that read the same different topics, each a valid topic name', () => {
    const lookalikes = ['local:Ann/ops', 'local:ann/ops', 'local:ann_ops', 'local:ann?ops', 'local:ANN_OPS', '-local:ann_ops'];
    const topics = lookalikes.map(topicForChat);
    expect(new Set(topics).size).toBe(lookalikes.length);
    for (const topic of topics) expect(topic).toMatch(TOPIC);
    for (const topic of topics) expect(topic.startsWith('local:ann_ops-')).toBe(true);
  });
});
