// `warren gated`: run the broker in the foreground until SIGINT/SIGTERM.
import { parse, untilSignal, type Command } from '../../core/command.js';
import { Gated } from '../broker.js';

const command: Command = {
  summary: 'run the capability-gated MCP broker in the foreground',
  usage: `Usage: warren gated [--tenants DIR] [--data DIR]

Serves every tenant's MCP tools on DATA/ipc/<tenant id>/gated.sock and follows changes to the tenant tree.`,
  async run(argv, common) {
    parse(argv, {}, false);
    const gated = await Gated.start({ tenantsDir: common.tenants, dataDir: common.data });
    for (const [tenant, socket] of gated.sockets()) process.stderr.write(`  ${tenant.padEnd(32)} ${socket}\n`);
    await untilSignal();
    await gated.stop();
    return 0;
  },
};
export default command;
