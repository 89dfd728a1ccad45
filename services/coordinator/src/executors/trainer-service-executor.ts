// The default executor: attempts go to long-running trainer services (GENGAP_TRAINER_ADDRESSES),
// each to the endpoint with the fewest attempts this coordinator has placed on it. An attempt
// keeps its endpoint for life (its run lives there), also across coordinator restarts. An endpoint
// whose attempt just failed (a trainer that stopped answering: killed, SIGSTOPped, partitioned) is
// passed over by new attempts for a while, so the work is re-dispatched to a trainer that answers.
import type { AttemptOutcome, AttemptRef, Executor, InfraFailure, Placement } from './executor.ts';

export const TRAINER_SERVICE_EXECUTOR = 'trainer-service';

/** How long new attempts avoid an endpoint after an attempt on it failed. */
export const SUSPECT_MS = 60_000;

export class TrainerServiceExecutor implements Executor {
  readonly name = TRAINER_SERVICE_EXECUTOR;
  private readonly load = new Map<string, number>();
  private readonly placed = new Map<string, string>();
  private readonly suspectUntil = new Map<string, number>();

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
      const now = Date.now();
      const trusted = [...this.load.entries()].filter(([a]) => (this.suspectUntil.get(a) ?? 0) <= now);
      const candidates = trusted.length > 0 ? trusted : [...this.load.entries()];
      address = candidates.reduce((best, cur) => (cur[1] < best[1] ? cur : best))[0];
    }
    this.load.set(address, (this.load.get(address) ?? 0) + 1);
    this.placed.set(key, address);
    return { executor: this.name, trainerAddress: address };
  }

  async check(): Promise<InfraFailure | undefined> {
    return undefined;
  }

  async release(ref: AttemptRef, _placement?: Placement, outcome?: AttemptOutcome): Promise<void> {
    const key = this.key(ref);
    const address = this.placed.get(key);
    if (!address) return;
    if (outcome === 'failed') this.suspectUntil.set(address, Date.now() + SUSPECT_MS);
    else if (outcome === 'succeeded') this.suspectUntil.delete(address);
    this.placed.delete(key);
    this.load.set(address, Math.max(0, (this.load.get(address) ?? 1) - 1));
  }

  async close(): Promise<void> {}
}
