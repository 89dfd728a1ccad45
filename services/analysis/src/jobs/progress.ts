// Progress of a running analysis: monotone fractions with a phase, throttled into the job's status and
// event log, plus the cooperative yield that keeps the gRPC server responsive while numerics run on
// the main thread (graph runs themselves execute off-thread in onnxruntime).
import type { ProgressReporter } from '../analyses/kind.ts';

/** Called with the overall fraction (0..1) and phase when a report is worth recording. */
export type ProgressSink = (fraction: number, phase: string) => void;

interface SharedState {
  best: number;
  lastPermille: number;
  lastPhase: string;
  lastEmitAt: number;
  lastYieldAt: number;
}

const EMIT_INTERVAL_MS = 200;
const YIELD_INTERVAL_MS = 15;

export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

class ScopedProgress implements ProgressReporter {
  private readonly state: SharedState;
  private readonly sink: ProgressSink;
  private readonly signal: AbortSignal;
  private readonly from: number;
  private readonly to: number;
  private readonly prefix: string;

  constructor(
    state: SharedState,
    sink: ProgressSink,
    signal: AbortSignal,
    from: number,
    to: number,
    prefix: string,
  ) {
    this.state = state;
    this.sink = sink;
    this.signal = signal;
    this.from = from;
    this.to = to;
    this.prefix = prefix;
  }

  async report(fraction: number, phase?: string): Promise<void> {
    const f = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
    const overall = this.from + f * (this.to - this.from);
    const state = this.state;
    state.best = Math.max(state.best, overall);
    const label = [this.prefix, phase ?? ''].filter(Boolean).join(': ');
    const permille = Math.floor(state.best * 1000);
    const now = Date.now();
    const phaseChanged = label !== '' && label !== state.lastPhase;
    if (phaseChanged || (permille > state.lastPermille && now - state.lastEmitAt >= EMIT_INTERVAL_MS)) {
      if (label !== '') state.lastPhase = label;
      state.lastPermille = permille;
      state.lastEmitAt = now;
      this.sink(state.best, state.lastPhase);
    }
    if (now - state.lastYieldAt >= YIELD_INTERVAL_MS) {
      state.lastYieldAt = now;
      await yieldToEventLoop();
    }
    this.signal.throwIfAborted();
  }

  span(from: number, to: number, phase?: string): ProgressReporter {
    const a = this.from + from * (this.to - this.from);
    const b = this.from + to * (this.to - this.from);
    const prefix = [this.prefix, phase ?? ''].filter(Boolean).join(': ');
    return new ScopedProgress(this.state, this.sink, this.signal, a, b, prefix);
  }
}

/** A reporter for a whole job; `start` is the progress already recorded (kept monotone on a re-run). */
export function jobProgress(sink: ProgressSink, signal: AbortSignal, start = 0): ProgressReporter {
  const state: SharedState = {
    best: start,
    lastPermille: Math.floor(start * 1000),
    lastPhase: '',
    lastEmitAt: 0,
    lastYieldAt: Date.now(),
  };
  return new ScopedProgress(state, sink, signal, 0, 1, '');
}

/** A reporter that records nothing (tests, benchmarks); it still yields and honours the signal. */
export function silentProgress(signal: AbortSignal = new AbortController().signal): ProgressReporter {
  return jobProgress(() => {}, signal);
}
