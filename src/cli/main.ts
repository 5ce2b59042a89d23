// vipd command line. Exit codes: 0 success, 1 runtime failure, 2 bad configuration or usage.

import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { controlSocketOf, DEFAULT_CONTROL_SOCKET } from '../config/socket.js';
import { request } from '../daemon/control.js';
import type { DaemonStatus } from './status-format.js';

const DEFAULT_CONFIG = '/etc/vipd/vipd.yaml';

// The config loader (the YAML library and the validators) and the status formatter load
// only for the commands that use them: `vipd status` and `vipd reload` start quicker.
const configLoader = () => import('../config/load.js');

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

function fail(message: string, code: number): never {
  process.stderr.write(`vipd: ${message}\n`);
  process.exit(code);
}

// Output into a reader that went away (`vipd status | head -1`): stop quietly, as
// a C tool dies of SIGPIPE, but with exit 0 and no stack trace (node ignores SIGPIPE).
// Not for the daemon: creating process.stdout or process.stderr makes a pipe on fd 1
// (or fd 2, which journald shares with fd 1) non-blocking, and the log's synchronous
// writes to fd 1 then fail with EAGAIN (see src/log.ts).
const args = process.argv.slice(2);
if (args.find((a) => !a.startsWith('-')) !== 'run' || args.includes('--help') || args.includes('-h'))
  for (const stream of [process.stdout, process.stderr])
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      if (stream === process.stdout) fail(`cannot write the output: ${err.code ?? err.message}`, 1);
      process.exit(1);
    });

/** The control socket: -s wins, else the one the config names, else the default. */
async function controlSocket(opts: { socket?: string; config?: string }): Promise<string> {
  if (opts.socket) return opts.socket;
  const file = opts.config ?? DEFAULT_CONFIG;
  const found = controlSocketOf(file);
  if (found) return found;
  try {
    return (await configLoader()).loadConfig(file).global.controlSocket;
  } catch {
    return DEFAULT_CONTROL_SOCKET;
  }
}

/** Whether something accepts connections on the control socket (a daemon, even a hung one). */
function listening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

const program = new Command()
  .name('vipd')
  .description('High-availability L4 director: VRRP election (keepalived-compatible), IPVS, health checks')
  .version(pkg.version)
  .showHelpAfterError()
  .exitOverride((err) => {
    process.exit(err.exitCode === 0 ? 0 : 2);
  });

program
  .command('run')
  .description('run the daemon in the foreground (systemd runs this)')
  .option('-c, --config <file>', 'configuration file', DEFAULT_CONFIG)
  .addOption(new Option('--log-level <level>', 'override global.log_level').choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal']))
  .option('--pretty', 'human-readable logs (default when stdout is a terminal)')
  .option('--json', 'JSON log lines even on a terminal')
  .action(async (o: { config: string; logLevel?: 'info'; pretty?: boolean; json?: boolean }) => {
    const { runDaemon } = await import('../daemon/daemon.js');
    await runDaemon({
      configFile: o.config,
      ...(o.logLevel ? { logLevel: o.logLevel } : {}),
      ...(o.pretty ? { pretty: true } : o.json ? { pretty: false } : {}),
    });
  });

program
  .command('check')
  .description('validate a configuration file and print a summary (exit 2 if invalid)')
  .option('-c, --config <file>', 'configuration file', DEFAULT_CONFIG)
  .action(async (o: { config: string }) => {
    const [{ ConfigError, loadConfig }, { summarize }, { readSysctl, tierSysctlAdvice }] = await Promise.all([configLoader(), import('./summary.js'), import('../daemon/route-check.js')]);
    try {
      const cfg = loadConfig(o.config);
      process.stdout.write(`${summarize(cfg)}\n`);
      // The kernel settings a tier needs and vipd cannot set (the daemon under its unit cannot even read them).
      for (const line of tierSysctlAdvice(cfg, readSysctl)) process.stderr.write(`vipd: warning: ${line}\n`);
    } catch (err) {
      if (err instanceof ConfigError) fail(`invalid configuration:\n${err.message}`, 2);
      throw err;
    }
  });

program
  .command('status')
  .description('show the running daemon: VRRP instances, state, priority, master, counters')
  .option('-c, --config <file>', 'configuration file (to find the control socket)', DEFAULT_CONFIG)
  .option('-s, --socket <path>', 'control socket of the daemon')
  .option('--json', 'machine-readable output')
  .action(async (o: { config?: string; socket?: string; json?: boolean }) => {
    try {
      const st = (await request(await controlSocket(o), { cmd: 'status' })) as DaemonStatus;
      process.stdout.write(o.json ? `${JSON.stringify(st, null, 2)}\n` : (await import('./status-format.js')).formatStatus(st));
    } catch (err) {
      fail((err as Error).message, 1);
    }
  });

program
  .command('rs')
  .description("take a real server out (disable), to weight 0 (drain) or back (enable) at run time — Octavia's admin_state_up; survives reloads and restarts")
  .argument('<action>', 'disable | drain | enable')
  .argument('<virtual-server>', 'the virtual server name in the config')
  .argument('<real-server>', 'address:port, or the address when it is unique')
  .option('-c, --config <file>', 'configuration file (to find the control socket)', DEFAULT_CONFIG)
  .option('-s, --socket <path>', 'control socket of the daemon')
  .action(async (action: string, vs: string, rs: string, o: { config?: string; socket?: string }) => {
    if (!['disable', 'drain', 'enable'].includes(action)) fail(`unknown action "${action}"; valid: disable | drain | enable`, 2);
    try {
      const msg = (await request(await controlSocket(o), { cmd: 'rs', action: action as 'disable' | 'drain' | 'enable', vs, rs })) as string;
      process.stdout.write(`${msg}\n`);
    } catch (err) {
      fail((err as Error).message, 1);
    }
  });

program
  .command('reload')
  .description('re-read the configuration; a bad file is rejected and the running one is kept')
  .option('-c, --config <file>', 'configuration file (to find the control socket)', DEFAULT_CONFIG)
  .option('-s, --socket <path>', 'control socket of the daemon')
  .action(async (o: { config?: string; socket?: string }) => {
    let r: { ok: boolean; error?: string; added?: string[]; removed?: string[]; restarted?: string[]; updated?: string[]; ipvsOps?: number; ipvsFailed?: number };
    try {
      r = (await request(await controlSocket(o), { cmd: 'reload' })) as typeof r;
    } catch (err) {
      fail((err as Error).message, 1);
    }
    if (!r.ok) fail(`reload rejected, the running configuration is unchanged:\n${r.error}`, 2);
    const parts = (['added', 'removed', 'restarted', 'updated'] as const)
      .filter((k) => (r[k]?.length ?? 0) > 0)
      .map((k) => `${k}: ${r[k]!.join(', ')}`);
    if (r.ipvsOps) parts.push(`IPVS: ${r.ipvsOps} operation(s)${r.ipvsFailed ? `, ${r.ipvsFailed} FAILED (see vipd status)` : ''}`);
    process.stdout.write(`reloaded${parts.length ? ` (${parts.join('; ')})` : ' (no change)'}\n`);
  });

program
  .command('withdraw')
  .description("delete the announced VIPs' routes a stopped or killed vipd left in announce.table (the unit's ExecStopPost)")
  .option('-c, --config <file>', 'configuration file (for announce.table and the state file)', DEFAULT_CONFIG)
  .option('--force', 'even while a daemon listens on the control socket (it would not know its routes are gone)')
  .action(async (o: { config: string; force?: boolean }) => {
    const [{ loadConfig }, { hostWithdrawOps, withdrawLeftovers }, { routeText }] = await Promise.all([configLoader(), import('../daemon/withdraw.js'), import('../net/rtroute.js')]);
    let scope: { controlSocket?: string; table?: number } = {};
    try {
      const cfg = loadConfig(o.config);
      scope = { controlSocket: cfg.global.controlSocket, table: cfg.announce.table };
    } catch (err) {
      process.stderr.write(`vipd withdraw: ${o.config} not usable (${(err as Error).message.split('\n')[0]}): withdrawing vipd's routes (protocol 86) from every table\n`);
    }
    const socket = scope.controlSocket ?? DEFAULT_CONTROL_SOCKET;
    if (!o.force && (await listening(socket))) fail(`a vipd is running (it answers on ${socket}): it withdraws its own routes when it stops or loses quorum ('systemctl stop vipd', 'vipd rs disable'); --force to delete them under it`, 1);
    const ops = hostWithdrawOps();
    try {
      const gone = withdrawLeftovers(scope, ops);
      for (const r of gone) process.stdout.write(`VIP ${r.to.address} WITHDRAWN (route ${routeText(r)} deleted): vipd is not running\n`);
      if (gone.length === 0) process.stdout.write('nothing to withdraw\n');
    } catch (err) {
      fail(`cannot withdraw: ${(err as Error).message}`, 1);
    } finally {
      ops.close();
    }
  });

program
  .command('import')
  .description('translate a keepalived.conf (and its includes), an Octavia load balancer or a Senlin load-balancing policy to vipd.yaml; report what is left out (exit 3) or invalid (exit 2)')
  .argument('<file>', 'the keepalived.conf, or the Octavia / Senlin description (YAML or JSON), to read')
  .addOption(new Option('--from <format>', 'the configuration format').choices(['keepalived', 'octavia', 'senlin']).default('keepalived'))
  .option('-o, --output <file>', 'write vipd.yaml here (default: stdout)')
  .option('--config-id <id>', "keepalived's -i: the id @id lines match (default: the host name's first part)")
  .option('--member <address[:port][@weight]>', "senlin: a cluster node to serve (repeat it; Senlin's policy does not list them)", (v: string, prev: string[] = []) => [...prev, v])
  .action(async (file: string, o: { from: string; output?: string; configId?: string; member?: string[] }) => {
    process.exitCode = (await import('./import.js')).runImport(file, o);
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // Whatever went wrong, one line and an exit code: `vipd run` that cannot start
  // (its control socket path is taken, its directory is not its own), or a bug.
  fail(`${process.argv[2] === 'run' ? 'cannot start: ' : ''}${(err as Error).message ?? String(err)}`, 1);
}
