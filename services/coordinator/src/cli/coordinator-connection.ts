// Where the coordinator is and a client for it: --coordinator <host:port>, else the embedded stack
// under --home (its stack.json, if every process of it is alive).

import { resolve } from 'node:path';
import { CoordinatorServiceClient } from '@gengap/proto/coordinator/v1/coordinator_service';
import { closeClient, createClient } from '@gengap/service-kit';
import { runningStack } from '../stack/local-stack.ts';
import { CliError, EXIT } from './exit-codes.ts';

export interface GlobalOptions {
  home: string;
  json: boolean;
  coordinator?: string;
}

export interface Connection {
  address: string;
  client: CoordinatorServiceClient;
  close(): void;
}

/** The coordinator's address, or a CliError (exit 3) saying how to get one. */
export function coordinatorAddress(options: GlobalOptions): string {
  if (options.coordinator) return options.coordinator;
  const stack = runningStack(resolve(options.home));
  if (stack) return stack.addresses.coordinator;
  throw new CliError(
    `no GenGap stack is running under ${resolve(options.home)}; start one with "gengap up" or pass --coordinator <host:port>`,
    EXIT.unavailable,
  );
}

export function connect(address: string): Connection {
  const client = createClient(CoordinatorServiceClient, address);
  return { address, client, close: () => closeClient(client) };
}
