// `gengap up` and `gengap down`: the embedded stack on loopback.
import type { Command } from 'commander';
import { down, STACK_ORDER, up } from '../stack/local-stack.ts';

interface GlobalOptions {
  home: string;
  json: boolean;
}

export function registerStackCommands(program: Command): void {
  program
    .command('up')
    .description('start data, trainer, analysis and coordinator on 127.0.0.1; returns once all are SERVING')
    .option('--timeout <seconds>', 'give up after this long', '90')
    .action(async (opts: { timeout: string }) => {
      const global = program.opts<GlobalOptions>();
      try {
        const state = await up({ root: global.home, timeoutMs: Number(opts.timeout) * 1000 });
        if (global.json) {
          console.log(JSON.stringify(state.addresses));
        } else {
          for (const key of STACK_ORDER)
            console.log(`${key.padEnd(12)} ${state.addresses[key]}  (pid ${state.pids[key]})`);
          console.log(`state and logs under ${state.root}`);
        }
      } catch (err) {
        console.error(`gengap up failed: ${(err as Error).message}`);
        process.exitCode = 3;
      }
    });

  program
    .command('down')
    .description('stop the embedded stack (SIGTERM, services drain; SIGKILL after the grace period)')
    .option('--grace <seconds>', 'seconds to wait for each service', '15')
    .action(async (opts: { grace: string }) => {
      const global = program.opts<GlobalOptions>();
      const { stopped } = await down(global.home, Number(opts.grace) * 1000);
      if (global.json) console.log(JSON.stringify({ stopped }));
      else console.log(stopped.length ? `stopped ${stopped.join(', ')}` : 'no stack running');
    });
}
