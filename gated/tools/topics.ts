// Topics: parallel conversations of one tenant. fork_topic starts a new topic from another one's session state.
import { z } from 'zod';
import { defineTool, ToolError } from './tool.js';

export const TOPIC = /^[a-z0-9][a-z0-9_.:-]{0,127}$/;
const topicName = z.string().regex(TOPIC, 'topic names use lowercase letters, digits and "_.:-", at most 128 characters');

export const forkTopic = defineTool({
  name: 'fork_topic',
  description: "Create topic `child` in your own tenant, starting from topic `parent`'s session state.",
  input: z.object({ parent: topicName, child: topicName }).strict(),
  handler(ctx, { parent, child }) {
    if (!ctx.store.topicExists(ctx.tenant, parent)) throw new ToolError(`topic ${parent} does not exist`);
    if (ctx.store.topicExists(ctx.tenant, child)) throw new ToolError(`topic ${child} already exists`);
    const from = ctx.store.topic(ctx.tenant, parent);
    ctx.store.createTopic(ctx.tenant, child, parent, from?.session ?? null);
    return { text: `forked topic ${child} from ${parent}`, data: { topic: child, parent } };
  },
});

export const topicTools = [forkTopic];
