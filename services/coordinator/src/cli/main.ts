#!/usr/bin/env node
// The `gengap` command line. Exit codes: 0 success, 1 failure of the work (a failed experiment),
// 2 usage error, 3 the stack or a service is unreachable.
import { Command } from 'commander';
import { registerStackCommands } from './stack-commands.ts';

export const EXIT = { ok: 0, failed: 1, usage: 2, unavailable: 3 } as const;

const program = new Command()
  .name('gengap')
  .description('GenGap: experiments on memorization and generalization, on gRPC microservices')
  .option(
    '--home <dir>',
    'folder of the embedded stack (state, logs, reports)',
    process.env.GENGAP_HOME ?? '.gengap',
  )
  .option('--json', 'machine-readable output', false)
  .showHelpAfterError()
  .exitOverride((err) => {
    process.exit(err.exitCode === 0 ? 0 : EXIT.usage);
  });

registerStackCommands(program);

await program.parseAsync(process.argv);
