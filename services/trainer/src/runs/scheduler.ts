// Capacity: at most `maxConcurrent` runs train at once, up to `maxQueued` more wait in FIFO order
// (state QUEUED); anything past that is refused at once with RESOURCE_EXHAUSTED, so a burst of starts
// never slows every run down. When a run ends the oldest queued one starts.
import { ResourceExhaustedError } from '@gengap/service-kit';

export interface Capacity {
  maxConcurrent: number;
  maxQueued: number;
}

/** What the scheduler needs from a started run. */
export interface ScheduledRun {
  readonly done: Promise<void>;
}

export class RunScheduler<R extends ScheduledRun> {
  private readonly capacity: Capacity;
  private readonly launch: (runId: string) => R;
  private readonly running = new Map<string, R>();
  private readonly queue: string[] = [];
  private stopped = false;

  constructor(capacity: Capacity, launch: (runId: string) => R) {
    this.capacity = capacity;
    this.launch = launch;
  }

  get runningCount(): number {
    return this.running.size;
  }

  get queuedCount(): number {
    return this.queue.length;
  }

  /** Throws ResourceExhaustedError unless a new run could start or queue now. */
  assertRoom(): void {
    const { maxConcurrent, maxQueued } = this.capacity;
    const canRun = this.running.size < maxConcurrent && this.queue.length === 0;
    if (!canRun && this.queue.length >= maxQueued) {
      throw new ResourceExhaustedError(
        `trainer is at capacity: ${this.running.size} of ${maxConcurrent} runs running and ${this.queue.length} of ${maxQueued} queued; retry later`,
      );
    }
  }

  /** Starts the run now if there is room, else queues it. `force` queues past the limit (resumes). */
  submit(runId: string, force = false): 'running' | 'queued' {
    if (!force) this.assertRoom();
    this.queue.push(runId);
    this.pump();
    return this.running.has(runId) ? 'running' : 'queued';
  }

  /** Removes a queued run; false when it was not queued. */
  dequeue(runId: string): boolean {
    const index = this.queue.indexOf(runId);
    if (index < 0) return false;
    this.queue.splice(index, 1);
    return true;
  }

  isQueued(runId: string): boolean {
    return this.queue.includes(runId);
  }

  execution(runId: string): R | undefined {
    return this.running.get(runId);
  }

  executions(): R[] {
    return [...this.running.values()];
  }

  private pump(): void {
    while (!this.stopped && this.running.size < this.capacity.maxConcurrent && this.queue.length > 0) {
      const runId = this.queue.shift() as string;
      const run = this.launch(runId);
      this.running.set(runId, run);
      const ended = () => {
        this.running.delete(runId);
        this.pump();
      };
      run.done.then(ended, ended);
    }
  }

  /** No more launches; queued runs stay queued in the store for the next start. */
  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
  }
}
