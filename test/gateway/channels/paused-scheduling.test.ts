// /pause and /resume against the real turn loop of a running warren: a paused group's messages wait while other
// groups' turns start, and /resume starts its turn.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../core/log.js';
import type { InboundEvent } from '../../../gateway/channels/adapter.js';
import { classroomCommands, type CommandsHook } from '../../../gateway/channels/commands.js';
import { ClassroomStore } from '../../../gateway/channels/users.js';
import { acceptMessage } from '../../../gateway/inbound.js';
import type { Warren } from '../../../gateway/warren.js';
import { tempTree, type TempTree } from '../../helpers/tree.js';
import { eventually } from '../../helpers/wait.js';
import { startWarren } from '../../helpers/warren.js';

let tree: TempTree;
let warren: Warren | undefined;
let classroom: ClassroomStore;
let hook: CommandsHook;

beforeAll(async () => {
  tree = tempTree({
    'acme/PERSONA.md': '---\nname: acme\n---\nThe course.\n',
    'acme/student_01/PERSONA.md': '---\nname: s1\n---\nA student group.\n',
    'acme/student_02/PERSONA.md': '---\nname: s2\n---\nA student group.\n',
    'acme/instructor_01/': '',
  });
  // A missing image makes every turn fail at once (no container): only which turns start matters here.
  warren = await startWarren(tree, { http: false, env: { WARREN_AGENT_IMAGE: 'warren-test/missing:0' } });
  classroom = new ClassroomStore(warren.db, warren.gated.store);
  hook = classroomCommands({
    classroom,
    groupExists: (g) => warren!.gated.registry.get(g) !== undefined,
    wake: () => warren!.loop.wake(),
    log: silentLogger(),
  });
}, 120_000);

afterAll(async () => {
  await warren?.stop();
  tree?.cleanup();
});

const command = (sender: string, name: string, args: string, tenant: string) => {
  const event: InboundEvent = {
    chat: 'tg:-100', thread: null, sender: { id: sender }, text: `/${name} ${args}`.trim(), platformMessageId: '7',
    replyTo: null, direct: false, mentioned: false, command: { name: `/${name}`, args },
  };
  return hook(event, { prefix: 'tg', world: 'acme' }, tenant);
};
const runsOf = (tenant: string) => (warren!.db.prepare(`SELECT COUNT(*) AS n FROM runs WHERE tenant = ?`).get(tenant) as { n: number }).n;

describe('a paused group in the running turn loop', () => {
  it('gets no turn while paused, though an older message waits; /resume starts it', async () => {
    const code = classroom.invite('acme/instructor_01', 3600).secret;
    expect(command('tg:teacher', 'pair', code, 'acme/student_01')).toEqual({ kind: 'handled', reply: 'paired: you are an instructor of acme/instructor_01' });
    expect(command('tg:teacher', 'pause', '', 'acme/student_01')).toMatchObject({ reply: 'paused acme/student_01: messages wait until /resume' });

    const { gated } = warren!;
    acceptMessage(gated.store, gated.registry, { tenant: 'acme/student_01', text: 'first, but paused', sender: 'ann' });
    acceptMessage(gated.store, gated.registry, { tenant: 'acme/student_02', text: 'second', sender: 'bo' });
    warren!.loop.wake();
    // The scheduler takes waiting topics oldest first: once the newer group's turn has started, the older one was
    // passed over, not merely not reached yet.
    await eventually(() => runsOf('acme/student_02') > 0, 'a turn for acme/student_02');
    expect(runsOf('acme/student_01')).toBe(0);
    expect(command('tg:teacher', 'status', '', 'acme/student_01')).toMatchObject({
      reply: 'acme/student_01: paused; 0 turns running, 1 conversation waiting (1 message)',
    });

    expect(command('tg:teacher', 'resume', '', 'acme/student_01')).toMatchObject({ reply: 'resumed acme/student_01' });
    await eventually(() => runsOf('acme/student_01') > 0, 'a turn for acme/student_01 after /resume');
  });
});
