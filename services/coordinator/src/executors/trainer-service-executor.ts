// The default executor: attempts go to long-running trainer services (GENGAP_TRAINER_ADDRESSES),
// each to the endpoint with the fewest attempts this coordinator has placed on it. An attempt
// keeps its endpoint for life (its run lives there), also across coordinator restarts.
import type { AttemptRef, Executor, InfraFailure, Placement } from './executor.ts';

export const TRAINER_SERVICE_EXECUTOR = 'trainer-service';

export class TrainerServiceExecutor implements Executor {
  readonly name = TRAINER_SERVICE_EXECUTOR;
  private readonly load = new Map<string, number>();
  private readonly placed = new Map<string, string>();

  constructor(addresses: readonly string[]) {
    if (addresses.length === 0)
      throw new Error('the trainer-service executor needs at least one trainer address');
    for (const a of addresses) this.load.set(a, 0);
  }

  get addresses(): string[] {
    return [...this.load.keys()];
  }

  private key(ref: AttemptRef): string {
    return `${ref.experimentId}/${ref.cellId}/${ref.attempt}`;
  }

  async place(ref: AttemptRef, previous: Placement | undefined): Promise<Placement> {
    const key = this.key(ref);
    const held = this.placed.get(key);
    if (held) return { executor: this.name, trainerAddress: held };
    let address = previous?.trainerAddress;
    if (!address || !this.load.has(address)) {
      address = [...this.load.entries()].reduce((best, cur) => (cur[1] < best[1] ? cur : best))[0];
    }
    this.load.set(address, (this.load.get(address) ?? 0) + 1);
    this.placed.set(key, address);
    return { executor: this.name, trainerAddress: address };
  }

  async check(): Promise<InfraFailure | undefined> {
    return undefined;
  }

  async release(ref: AttemptRef): Promise<void> {
    const key = this.key(ref);
    const address = this.placed.get(key);
    if (!address) return;
    this.placed.delete(key);
    this.load.set(address, Math.max(0, (this.load.get(address) ?? 1) - 1));
  }

  async close(): Promise<void> {}
}
