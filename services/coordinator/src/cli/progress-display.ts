// Live progress of an experiment: on a terminal, one bar per run (epoch, train and test accuracy)
// and one overall bar (cli-progress); elsewhere (pipes, CI, --json) plain lines: each run as it
// finishes and, at most every `lineEverySeconds`, where each running run is.

import { JobState } from '@gengap/proto/common/v1/job';
import type { Experiment, ExperimentEvent, ExperimentRun } from '@gengap/proto/coordinator/v1/experiment';
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import { stateName } from '../reports/run-tables.ts';
import { fixed, isTerminal, percent, runSummaryJson } from './experiment-view.ts';

export interface ProgressDisplay {
  start(experiment: Experiment): void;
  event(event: ExperimentEvent): void;
  /** A line printed above the bars (or on its own). */
  log(line: string): void;
  stop(): void;
}

interface RunState {
  label: string;
  state: JobState;
  progress: number;
  epoch: number;
  train: number | undefined;
  test: number | undefined;
  lastLine: number;
}

/** Finished-run line: "labelCorruption=0.2: succeeded, train 100.0%, test 81.2%, fitted at epoch 14". */
export function finishedLine(run: ExperimentRun): string {
  const j = runSummaryJson(run);
  const parts = [j.status];
  // Runs without an accuracy (auto-encoder stages) are described by their losses.
  const accuracy = j.finalTrainAccuracy !== null && !Number.isNaN(j.finalTrainAccuracy);
  if (accuracy) parts.push(`train ${percent(j.finalTrainAccuracy)}`, `test ${percent(j.finalTestAccuracy)}`);
  else if (j.finalTrainLoss !== null)
    parts.push(`train loss ${fixed(j.finalTrainLoss)}`, `test loss ${fixed(j.finalTestLoss)}`);
  if (j.timeToFitEpoch !== null) parts.push(`fitted at epoch ${j.timeToFitEpoch}`);
  else if (accuracy) parts.push('not fitted');
  if (j.error) parts.push(j.error);
  return `${run.label || run.cellId}: ${parts.join(', ')}`;
}

abstract class RunTracker {
  protected runs = new Map<string, RunState>();
  protected total = 0;
  protected phase = '';
  /** The base cell's epoch limit: a run's progress when the trainer has not reported one yet. */
  private maxEpochs = 0;

  start(experiment: Experiment): void {
    this.total = experiment.runs.length;
    this.maxEpochs = experiment.spec?.base?.run?.stop?.maxEpochs ?? 0;
    for (const r of experiment.runs) this.track(r);
  }

  protected track(run: ExperimentRun): RunState {
    const known = this.runs.get(run.cellId);
    const state: RunState = known ?? {
      label: run.label || run.cellId,
      state: 0,
      progress: 0,
      epoch: 0,
      train: undefined,
      test: undefined,
      lastLine: 0,
    };
    state.label = run.label || state.label;
    state.state = run.status?.state ?? state.state;
    if (run.status?.progress) state.progress = Math.max(state.progress, run.status.progress);
    if (run.summary && run.summary.epochs > 0) {
      state.epoch = run.summary.epochs;
      state.train = run.summary.finalTrainAccuracy;
      state.test = run.summary.finalTestAccuracy;
    }
    if (!known) {
      this.runs.set(run.cellId, state);
      this.total = Math.max(this.total, this.runs.size);
    }
    return state;
  }

  protected done(): number {
    return [...this.runs.values()].filter((r) => isTerminal(r.state)).length;
  }

  event(event: ExperimentEvent): void {
    const e = event.event;
    if (!e) return;
    if (e.$case === 'status') {
      if (e.value.phase && e.value.phase !== this.phase) {
        this.phase = e.value.phase;
        this.onPhase(e.value.phase);
      }
      this.onOverall();
    } else if (e.$case === 'run') {
      const before = this.runs.get(e.value.cellId)?.state;
      const state = this.track(e.value);
      if (isTerminal(state.state) && !isTerminal(before)) {
        if (state.state === JobState.JOB_STATE_SUCCEEDED) state.progress = 1;
        this.onRunFinished(e.value, state);
      } else this.onRunProgress(e.value.cellId, state);
      this.onOverall();
    } else if (e.$case === 'runProgress') {
      const state = this.runs.get(e.value.cellId);
      if (!state) return;
      if (!isTerminal(state.state)) state.state = JobState.JOB_STATE_RUNNING;
      const byEpoch =
        this.maxEpochs > 0 && e.value.epoch ? Math.min(1, e.value.epoch.epoch / this.maxEpochs) : 0;
      state.progress = Math.max(state.progress, e.value.progress, byEpoch);
      if (e.value.epoch) {
        state.epoch = e.value.epoch.epoch;
        state.train = e.value.epoch.trainAccuracy;
        state.test = e.value.epoch.testAccuracy;
      }
      this.onRunProgress(e.value.cellId, state);
    } else if (
      e.$case === 'analysis' &&
      isTerminal(e.value.status?.state) &&
      e.value.status?.state !== JobState.JOB_STATE_SUCCEEDED
    ) {
      this.log(
        `analysis ${e.value.name}: ${stateName(e.value.status?.state)}${e.value.status?.error?.message ? ` (${e.value.status.error.message})` : ''}`,
      );
    }
  }

  protected abstract onPhase(phase: string): void;
  protected abstract onOverall(): void;
  protected abstract onRunProgress(cellId: string, state: RunState): void;
  protected abstract onRunFinished(run: ExperimentRun, state: RunState): void;
  abstract log(line: string): void;
  abstract stop(): void;
}

const fit = (text: string, width: number) =>
  text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);

class BarsDisplay extends RunTracker implements ProgressDisplay {
  private readonly multibar: MultiBar;
  private overall: SingleBar | undefined;
  private readonly bars = new Map<string, SingleBar>();
  private readonly maxBars: number;

  constructor(stream: NodeJS.WriteStream, maxBars = 12) {
    super();
    this.maxBars = maxBars;
    this.multibar = new MultiBar(
      {
        stream,
        hideCursor: true,
        clearOnComplete: false,
        autopadding: true,
        format: ' {label} {bar} {percentage}% | {status}',
        barsize: 24,
      },
      Presets.shades_grey,
    );
  }

  override start(experiment: Experiment): void {
    super.start(experiment);
    this.overall = this.multibar.create(Math.max(1, this.total), this.done(), {
      label: fit('all runs', 32),
      status: '',
    });
    for (const [cellId, state] of this.runs)
      if (state.state === JobState.JOB_STATE_RUNNING) this.onRunProgress(cellId, state);
    this.onOverall();
  }

  private payload(state: RunState) {
    const epoch = state.epoch ? `epoch ${Math.round(state.epoch * 10) / 10}` : stateName(state.state);
    const acc =
      state.train === undefined ? '' : `, train ${percent(state.train)}, test ${percent(state.test)}`;
    return { label: fit(state.label, 32), status: `${epoch}${acc}` };
  }

  protected onPhase(): void {}

  protected onOverall(): void {
    if (!this.overall) return;
    this.overall.setTotal(Math.max(1, this.total));
    const failed = [...this.runs.values()].filter((r) => r.state === JobState.JOB_STATE_FAILED).length;
    this.overall.update(this.done(), {
      label: fit('all runs', 32),
      status: `${this.done()}/${this.total} done${failed ? `, ${failed} failed` : ''}${this.phase ? ` · ${this.phase}` : ''}`,
    });
  }

  protected onRunProgress(cellId: string, state: RunState): void {
    let bar = this.bars.get(cellId);
    if (!bar) {
      if (state.state !== JobState.JOB_STATE_RUNNING) return;
      bar = this.multibar.create(100, 0, this.payload(state));
      this.bars.set(cellId, bar);
    }
    bar.update(Math.round(state.progress * 100), this.payload(state));
  }

  protected onRunFinished(run: ExperimentRun, state: RunState): void {
    const bar = this.bars.get(run.cellId);
    if (bar) {
      bar.update(Math.round(state.progress * 100), this.payload(state));
      // Large experiments keep only running runs on screen; finished ones are logged above.
      if (this.runs.size > this.maxBars) {
        this.multibar.remove(bar);
        this.bars.delete(run.cellId);
      }
    }
    this.log(finishedLine(run));
  }

  log(line: string): void {
    this.multibar.log(`${line}\n`);
  }

  stop(): void {
    this.multibar.stop();
  }
}

class LinesDisplay extends RunTracker implements ProgressDisplay {
  private readonly out: NodeJS.WritableStream;
  private readonly everyMs: number;

  constructor(out: NodeJS.WritableStream, lineEverySeconds: number) {
    super();
    this.out = out;
    this.everyMs = lineEverySeconds * 1000;
  }

  protected onPhase(phase: string): void {
    this.log(/\d+\/\d+/.test(phase) ? phase : `[${this.done()}/${this.total}] ${phase}`);
  }

  protected onOverall(): void {}

  protected onRunProgress(_cellId: string, state: RunState): void {
    const now = Date.now();
    if (state.state !== JobState.JOB_STATE_RUNNING || now - state.lastLine < this.everyMs || !state.epoch)
      return;
    state.lastLine = now;
    this.log(
      `  ${state.label}: epoch ${Math.round(state.epoch * 10) / 10}, train ${percent(state.train)}, test ${percent(state.test)}`,
    );
  }

  protected onRunFinished(run: ExperimentRun): void {
    this.log(`[${this.done()}/${this.total}] ${finishedLine(run)}`);
  }

  log(line: string): void {
    this.out.write(`${line}\n`);
  }

  stop(): void {}
}

/** Bars on a terminal (stderr), lines elsewhere; nothing at all with `quiet`. */
export function progressDisplay(
  options: { quiet?: boolean; lineEverySeconds?: number } = {},
): ProgressDisplay {
  if (options.quiet) {
    return { start() {}, event() {}, log() {}, stop() {} };
  }
  if (process.stderr.isTTY) return new BarsDisplay(process.stderr);
  return new LinesDisplay(process.stderr, options.lineEverySeconds ?? 15);
}
