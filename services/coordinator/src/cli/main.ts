#!/usr/bin/env node
// The `gengap` command line: the embedded stack (up/down), experiments (run, watch, ls, show,
// report, cancel) and presets, each command in its own module. Human output by default, --json
// for scripts; exit codes in exit-codes.ts (and in --help).
import { clientSecurityFrom, configureOutbound } from '@gengap/service-kit';
import { Command } from 'commander';
import { registerCancelCommand } from './cancel-command.ts';
import { EXIT, exitCodeHelp } from './exit-codes.ts';
import { registerListCommand } from './list-command.ts';
import { registerPresetsCommand } from './presets-command.ts';
import { registerReportCommand } from './report-command.ts';
import { registerRunCommand } from './run-command.ts';
import { registerShowCommand } from './show-command.ts';
import { registerStackCommands } from './stack-commands.ts';
import { registerWatchCommand } from './watch-command.ts';

export { EXIT } from './exit-codes.ts';

const program = new Command()
  .name('gengap')
  .description('GenGap: experiments on memorization and generalization, on gRPC microservices')
  .option(
    '--home <dir>',
    'folder of the embedded stack (state, logs, reports)',
    process.env.GENGAP_HOME ?? '.gengap',
  )
  .option('--coordinator <host:port>', 'talk to this coordinator instead of the embedded stack under --home')
  .option('--json', 'machine-readable output on stdout (progress still goes to stderr)', false)
  .option('--token <token>', 'bearer token for a coordinator with GENGAP_AUTH_TOKENS (env GENGAP_TOKEN)')
  .option('--tls-ca <file>', 'CA certificate (PEM): talk TLS to the coordinator and verify it')
  .option('--tls-cert <file>', 'client certificate (PEM) for a coordinator that requires mutual TLS')
  .option('--tls-key <file>', 'key of --tls-cert (PEM)')
  .option('--tls-server-name <name>', "name expected in the coordinator's certificate")
  .addHelpText('after', exitCodeHelp)
  .showHelpAfterError()
  .exitOverride((err) => {
    process.exit(err.exitCode === 0 ? 0 : EXIT.usage);
  });

// Every client the commands create uses the token and TLS settings (service-kit outbound defaults).
program.hook('preAction', () => {
  const o = program.opts<{
    token?: string;
    tlsCa?: string;
    tlsCert?: string;
    tlsKey?: string;
    tlsServerName?: string;
  }>();
  configureOutbound(clientSecurityFrom({ ...o, token: o.token ?? process.env.GENGAP_TOKEN }));
});

registerStackCommands(program);
registerRunCommand(program);
registerWatchCommand(program);
registerListCommand(program);
registerShowCommand(program);
registerReportCommand(program);
registerCancelCommand(program);
registerPresetsCommand(program);

await program.parseAsync(process.argv);
