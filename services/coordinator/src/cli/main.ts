#!/usr/bin/env node
// The `gengap` command line: the embedded stack (up/down), experiments (run, watch, ls, show,
// report, cancel) and presets, each command in its own module. Human output by default, --json
// for scripts; exit codes in exit-codes.ts (and in --help).
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
  .addHelpText('after', exitCodeHelp)
  .showHelpAfterError()
  .exitOverride((err) => {
    process.exit(err.exitCode === 0 ? 0 : EXIT.usage);
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
