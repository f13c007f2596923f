// `warren gated`: run the broker in the foreground until SIGINT/SIGTERM.
import { parse, untilSignal, type Command } from '../../core/command.js';
import { Gated } from '../broker.js';

/** A stop that has not finished by then is abandoned (after the audit rows are written): the signal means stop. */
export const STOP_DEADLINE_MS = 4000;

const command: Command = {
  summary: 'run the capability-gated MCP broker in the foreground',
  usage: `Usage: warren gated [--tenants DIR] [--data DIR]

Serves every tenant's MCP tools on DATA/ipc/<tenant id>/gated.sock (DATA/ipc/+<hash>/gated.sock where that path
would be too long for a unix socket) and follows changes to the tenant tree. One warren per --data: a second one
refuses to start while DATA/warren.lock names a running process. The operator's control socket
DATA/control/gated.sock lets "warren tenants" and "warren grants explain" show what it enforces.
SIGINT/SIGTERM stops it (within ${STOP_DEADLINE_MS / 1000} s whatever its clients do); a second signal exits at once.`,
  async run(argv, common) {
    parse(argv, {}, false);
    const gated = await Gated.start({ tenantsDir: common.tenants, dataDir: common.data });
    for (const [tenant, socket] of gated.sockets()) process.stderr.write(`  ${tenant.padEnd(32)} ${socket}\n`);
    await untilSignal();
    const exitNow = (why: string) => {
      process.stderr.write(`warren gated: ${why}; exiting\n`);
      try {
        gated.audit.flush();
      } catch {
        // exiting regardless: the operator asked for it
      }
      process.exit(1);
    };
    const again = () => exitNow('second signal');
    process.once('SIGINT', again);
    process.once('SIGTERM', again);
    const deadline = setTimeout(() => exitNow(`not stopped within ${STOP_DEADLINE_MS} ms`), STOP_DEADLINE_MS);
    deadline.unref();
    await gated.stop();
    clearTimeout(deadline);
    process.off('SIGINT', again);
    process.off('SIGTERM', again);
    return 0;
  },
};
export default command;
