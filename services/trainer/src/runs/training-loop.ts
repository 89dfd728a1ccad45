// The training loop of one run, inside its worker thread: chunks of K optimizer steps (one ORT Loop
// call each), per-step and per-epoch metrics, time-to-fit, stop rules, and checkpoints. Chunk
// boundaries are a pure function of the step index (epoch ends, checkpoint and trajectory steps), and
// everything random is seeded by (seed, step), so a run resumed from a checkpoint replays exactly the
// computation of an uninterrupted run; replayed events carry the same dedupe keys and are dropped.

import { ModelSpec } from '@gengap/proto/common/v1/model';
import type { RunSpec, RunSummary } from '@gengap/proto/trainer/v1/run';
import type { Augmenter } from './augmentation.ts';
import type { ChunkPosition, OfflineBatches, OnlineBatches } from './batches.ts';
import type { CheckpointWriter } from './checkpoint-writer.ts';
import { latestCheckpoint } from './checkpoints.ts';
import { chunkSteps, type Position, positionAfter } from './chunk-plan.ts';
import { DataOrder } from './data-order.ts';
import { NonFiniteLossError } from './errors.ts';
import { correctnessBitmap, evaluateModel } from './evaluation.ts';
import { type LoopState, runSummary } from './loop-state.ts';
import { type LearningRateAt, learningRateSchedule } from './lr-schedule.ts';
import type { RunEventBody } from './run-records.ts';
import type { RunPlan } from './run-spec.ts';
import type { ChunkBatches, LabelledSplit, TrainingBackend } from './training-backend.ts';
import { TrajectoryProjection } from './trajectory.ts';
import { ControlFlag } from './worker-protocol.ts';

export interface LoopIO {
  emit(key: string, event: RunEventBody): void;
  /** Sends buffered events and resolves once the main thread has stored them. */
  flush(): Promise<void>;
  progress(progress: number, phase: string, summary: RunSummary): void;
  /** The shared control flag (ControlFlag). */
  control(): number;
}

export interface LoopInputs {
  runId: string;
  spec: RunSpec;
  specHash: string;
  plan: RunPlan;
  runDir: string;
  backend: TrainingBackend;
  /** Offline training data (absent for online datasets): the batches of the run's objective. */
  batches?: OfflineBatches;
  /** The training split as evaluations score it (without a disagreement run's query rows). */
  train?: LabelledSplit;
  test?: LabelledSplit;
  online?: OnlineBatches;
  /** Writes checkpoints (in the background where it has a helper thread). */
  writer: CheckpointWriter;
  /** Data augmentation of image inputs (regularizers.augment_*). */
  augmenter?: Augmenter;
  /** Parameters to start from when there is no checkpoint yet (init_from). */
  initFrom?: Parameters<TrainingBackend['loadParameters']>[0];
  log: (message: string, fields?: Record<string, unknown>) => void;
}

export type LoopResult =
  | { kind: 'succeeded'; summary: RunSummary }
  | { kind: 'failed'; error: NonFiniteLossError; summary: RunSummary }
  | { kind: 'cancelled'; summary: RunSummary }
  | { kind: 'interrupted' };

const PROGRESS_INTERVAL_MS = 1000;
const FIT_ACCURACY = 1 - 1e-12;

export class TrainingLoop {
  private readonly in: LoopInputs;
  private readonly io: LoopIO;
  private readonly plan: RunPlan;
  private readonly lr: LearningRateAt;
  private readonly trajectory: TrajectoryProjection | undefined;
  private order: DataOrder | undefined;
  private step = 0;
  private epochIndex = 0;
  private stepInEpoch = 0;
  private state: LoopState = { wallSeconds: 0, samples: 0 };
  private attemptStart = performance.now();
  private wallAtAttemptStart = 0;
  private lastProgress = 0;
  private lastEvalStep = -1;
  /** A background checkpoint write that failed (disk full...): ends the run at the next chunk. */
  private writeFailure: Error | undefined;

  constructor(inputs: LoopInputs, io: LoopIO) {
    this.in = inputs;
    this.io = io;
    this.plan = inputs.plan;
    const budget = Number.isFinite(this.plan.maxSteps) ? this.plan.maxSteps : 0;
    this.lr = learningRateSchedule(inputs.spec.optimizer?.learningRate ?? 0, inputs.spec.schedule, budget);
    this.trajectory =
      this.plan.trajectoryEvery > 0
        ? new TrajectoryProjection(
            this.plan.trajectorySeed,
            this.plan.trajectoryDimension,
            inputs.backend.numParameters,
          )
        : undefined;
  }

  private get epoch(): number {
    return this.step / this.plan.stepsPerEpoch;
  }

  private wall(): number {
    return this.wallAtAttemptStart + (performance.now() - this.attemptStart) / 1000;
  }

  /** Restores the newest checkpoint, or initialises (init_from) when there is none. */
  private restore(): void {
    const { backend, runDir } = this.in;
    const checkpoint = latestCheckpoint(runDir);
    if (checkpoint) {
      const { manifest } = checkpoint;
      backend.loadParameters(checkpoint.parameters);
      backend.loadOptimizerState(checkpoint.optimizer);
      this.step = manifest.step;
      this.epochIndex = manifest.epochIndex;
      this.stepInEpoch = manifest.stepInEpoch;
      this.state = manifest.loop as LoopState;
      this.lastEvalStep = this.state.lastEval?.step ?? -1;
      if (this.in.train) {
        this.order = DataOrder.resume(manifest.dataOrderRngState, this.plan.trainSize, this.plan.shuffle);
      }
      // The event may have been lost if the previous attempt died right after writing the files.
      this.io.emit(`ckpt:${manifest.step}`, {
        $case: 'checkpoint',
        value: {
          checkpoint: {
            step: manifest.step,
            epoch: manifest.epoch,
            permanent: manifest.permanent,
            sha256Hex: manifest.files['parameters.safetensors'] ?? '',
          },
        },
      });
      this.in.log('resumed from checkpoint', { step: manifest.step });
    } else {
      if (this.in.initFrom) {
        const { copied, skipped } = backend.loadParameters(this.in.initFrom, { partial: true });
        this.in.log('initialised from another checkpoint', { copied, skipped });
      }
      if (this.in.train)
        this.order = DataOrder.start(this.in.spec.seed, this.plan.trainSize, this.plan.shuffle);
    }
    this.wallAtAttemptStart = this.state.wallSeconds;
    this.attemptStart = performance.now();
  }

  async run(): Promise<LoopResult> {
    this.restore();
    if (this.state.stopReason) return { kind: 'succeeded', summary: this.summary() };
    let stopReason: string | undefined;
    for (;;) {
      stopReason = this.budgetExhausted();
      if (stopReason) break;
      if (this.writeFailure) throw this.writeFailure;
      const flag = this.io.control();
      if (flag === ControlFlag.CANCEL) return { kind: 'cancelled', summary: this.summary() };
      if (flag === ControlFlag.SHUTDOWN) {
        // Checkpoints already asked for are progress the next start resumes from: finish writing them.
        await this.settleWrites();
        await this.io.flush();
        return { kind: 'interrupted' };
      }
      try {
        await this.trainChunk();
      } catch (err) {
        if (err instanceof NonFiniteLossError) {
          await this.settleWrites();
          await this.io.flush();
          return { kind: 'failed', error: err, summary: this.summary() };
        }
        throw err;
      }
      if (this.trajectory && this.step % this.plan.trajectoryEvery === 0) this.recordTrajectory();
      if (this.stepInEpoch >= this.plan.stepsPerEpoch) {
        stopReason = await this.endEpoch();
        if (stopReason) break;
      } else if (this.step % this.plan.checkpointEverySteps === 0) {
        await this.checkpoint(false);
      }
      this.reportProgress(false);
    }
    if (this.lastEvalStep !== this.step) await this.evaluate(`eval:${this.step}`);
    this.state.stopReason = stopReason;
    await this.checkpoint(true, true);
    this.reportProgress(true);
    return { kind: 'succeeded', summary: this.summary() };
  }

  private budgetExhausted(): string | undefined {
    const { plan } = this;
    if (this.step >= plan.maxSteps) {
      return plan.maxEpochs > 0 && this.step >= plan.maxEpochs * plan.stepsPerEpoch
        ? 'max_epochs'
        : 'max_steps';
    }
    if (plan.maxWallSeconds > 0 && this.wall() >= plan.maxWallSeconds) return 'max_wall_seconds';
    return undefined;
  }

  private position(): Position {
    return { step: this.step, epochIndex: this.epochIndex, stepInEpoch: this.stepInEpoch };
  }

  private async gather(at: ChunkPosition): Promise<ChunkBatches> {
    const { plan } = this;
    if (plan.online) {
      if (!this.in.online) throw new Error('online dataset without a batch source');
      return this.in.online.gather(at);
    }
    const batches = this.in.batches as OfflineBatches;
    if (plan.fullBatch) return batches.whole(at.steps);
    return batches.gather(this.order as DataOrder, at);
  }

  /** Starts fetching the batches of the chunk after `chunk`, to overlap with its training. */
  private prefetchAfter(chunk: ChunkPosition): void {
    const { plan } = this;
    const next = positionAfter(plan, chunk);
    if (next.step >= plan.maxSteps || plan.fullBatch) return;
    const at = { ...next, steps: chunkSteps(plan, next, this.in.augmenter !== undefined) };
    if (plan.online) {
      this.in.online?.prefetch(at);
    } else if (this.in.batches && this.order) {
      this.in.batches.prefetch(
        at,
        this.in.batches.rows(this.order, at, next.epochIndex !== chunk.epochIndex),
      );
    }
  }

  private async trainChunk(): Promise<void> {
    const at = {
      ...this.position(),
      steps: chunkSteps(this.plan, this.position(), this.in.augmenter !== undefined),
    };
    const k = at.steps;
    const chunk = await this.gather(at);
    if (this.in.augmenter) {
      // Full-batch chunks are the training set itself: augment a copy.
      if (chunk.sameBatch) chunk.x = chunk.x.slice();
      this.in.augmenter.apply(chunk, this.step);
    }
    this.prefetchAfter(at);
    const rates = new Float64Array(k);
    for (let i = 0; i < k; i++) rates[i] = this.lr(this.step + i);
    const metrics = await this.in.backend.train(chunk, rates, this.step);
    for (let i = 0; i < k; i++) {
      const n = this.step + i + 1;
      const loss = metrics.loss[i] as number;
      const gradientNorm = metrics.gradientNorm[i] as number;
      if (!Number.isFinite(loss)) throw new NonFiniteLossError(n, `the training loss (${loss})`);
      if (!Number.isFinite(gradientNorm))
        throw new NonFiniteLossError(n, `the gradient norm (${gradientNorm})`);
      const batchAccuracy = metrics.batchAccuracy[i] as number;
      if (this.plan.online) {
        this.state.onlineSums ??= { loss: 0, accuracy: 0, steps: 0 };
        const sums = this.state.onlineSums;
        sums.loss += loss;
        sums.accuracy += batchAccuracy;
        sums.steps += 1;
      }
      if (n % this.plan.stepEvery === 0) {
        this.io.emit(`step:${n}`, {
          $case: 'step',
          value: {
            step: n,
            epoch: n / this.plan.stepsPerEpoch,
            loss,
            learningRate: rates[i] as number,
            gradientNorm,
            batchAccuracy,
          },
        });
      }
    }
    this.step += k;
    this.stepInEpoch += k;
    this.state.samples += k * chunk.batchSize;
  }

  private recordTrajectory(): void {
    const projection = (this.trajectory as TrajectoryProjection).project(this.in.backend.flatParameters());
    this.io.emit(`traj:${this.step}`, { $case: 'trajectory', value: { step: this.step, projection } });
  }

  /** Epoch bookkeeping: next permutation, evaluation, stop rules, checkpoints. */
  private async endEpoch(): Promise<string | undefined> {
    const { plan } = this;
    // Full-batch chunks complete several one-step epochs at once; only the last has work to do.
    const completed = this.stepInEpoch / plan.stepsPerEpoch;
    this.epochIndex += completed;
    this.stepInEpoch = 0;
    for (let e = 0; e < completed; e++) this.order?.nextEpoch();
    let stopReason: string | undefined;
    const lastEpoch = this.step >= plan.maxSteps;
    if (this.epochIndex % plan.evalEveryEpochs === 0 || lastEpoch) {
      const evaluation = await this.evaluate(`epoch:${this.epochIndex}`);
      stopReason = this.stopRuleAfter(evaluation);
    }
    if (plan.online) this.state.onlineSums = { loss: 0, accuracy: 0, steps: 0 };
    const permanent =
      plan.keepEpochs.has(this.epochIndex) ||
      (plan.keepEveryEpochs > 0 && this.epochIndex % plan.keepEveryEpochs === 0);
    // The final checkpoint follows at once when training stops here.
    const stopsHere = stopReason !== undefined || lastEpoch;
    if (
      !stopsHere &&
      (plan.checkpointEachEpoch || permanent || this.step % plan.checkpointEverySteps === 0)
    ) {
      await this.checkpoint(permanent);
    }
    return stopReason;
  }

  private stopRuleAfter(evaluation: { trainLoss: number; trainAccuracy: number }): string | undefined {
    const { plan } = this;
    if (plan.targetTrainLoss > 0 && evaluation.trainLoss < plan.targetTrainLoss) return 'target_train_loss';
    if (plan.targetTrainAccuracy > 0 && evaluation.trainAccuracy >= plan.targetTrainAccuracy) {
      this.state.targetReachedEpoch ??= this.epochIndex;
      if (this.epochIndex - this.state.targetReachedEpoch >= plan.patienceEpochs)
        return 'target_train_accuracy';
    }
    return undefined;
  }

  private async evaluate(key: string): Promise<{ trainLoss: number; trainAccuracy: number }> {
    const result = await evaluateModel(this.in.backend, this.plan, {
      train: this.in.train,
      test: this.in.test,
      onlineSums: this.state.onlineSums,
    });
    const { correct, ...metrics } = result;
    const wallSeconds = this.wall();
    this.io.emit(key, {
      $case: 'epoch',
      value: { step: this.step, epoch: this.epoch, ...metrics, wallSeconds },
    });
    if (correct) {
      this.io.emit(`correct:${this.step}`, {
        $case: 'exampleCorrectness',
        value: {
          step: this.step,
          epoch: this.epoch,
          correctBitmap: Buffer.from(correctnessBitmap(correct)),
          numExamples: correct.length,
        },
      });
    }
    if (!this.state.timeToFit && result.trainAccuracy >= FIT_ACCURACY) {
      this.state.timeToFit = { step: this.step, epoch: this.epoch, wallSeconds };
      this.io.emit('ttf', { $case: 'timeToFit', value: { reached: true, ...this.state.timeToFit } });
    }
    this.state.lastEval = {
      step: this.step,
      epoch: this.epoch,
      trainLoss: result.trainLoss,
      trainAccuracy: result.trainAccuracy,
      testLoss: result.testLoss,
      testAccuracy: result.testAccuracy,
    };
    this.lastEvalStep = this.step;
    this.reportProgress(true);
    return result;
  }

  /**
   * Asks for a checkpoint of the current state. It is written in the background (the loop trains on);
   * the final one is awaited, with every earlier one.
   */
  private async checkpoint(permanent: boolean, final = false): Promise<void> {
    // Every event up to this step must be stored before the checkpoint exists: a resume replays only
    // the steps after it.
    await this.io.flush();
    this.state.wallSeconds = this.wall();
    const { backend, runId, spec } = this.in;
    const written = this.in.writer.write(
      {
        runId,
        step: this.step,
        epoch: this.epoch,
        epochIndex: this.epochIndex,
        stepInEpoch: this.stepInEpoch,
        dataOrderRngState: this.order?.state ?? [],
        specHash: this.in.specHash,
        permanent: permanent || final,
        final,
        precision: this.plan.precision,
        model: ModelSpec.toJSON(spec.model as ModelSpec),
        loop: structuredClone(this.state),
      },
      backend.parameterTensors(),
      backend.optimizerTensors(),
    );
    const recorded = written.then(
      (checkpoint) => {
        this.io.emit(`ckpt:${checkpoint.step}`, {
          $case: 'checkpoint',
          value: {
            checkpoint: {
              step: checkpoint.step,
              epoch: checkpoint.epoch,
              permanent: checkpoint.permanent,
              sha256Hex: checkpoint.sha256Hex,
            },
          },
        });
      },
      (err: unknown) => {
        this.writeFailure ??= err as Error;
      },
    );
    if (final) {
      await recorded;
      await this.in.writer.idle();
      if (this.writeFailure) throw this.writeFailure;
      await this.io.flush();
    }
  }

  /** Waits for background checkpoint writes (before the loop returns). */
  private async settleWrites(): Promise<void> {
    await this.in.writer.idle();
    // Let the write callbacks run, so their events are emitted.
    await new Promise((resolve) => setImmediate(resolve));
  }

  private progressFraction(): number {
    const { plan } = this;
    const byWall = plan.maxWallSeconds > 0 ? this.wall() / plan.maxWallSeconds : 0;
    const bySteps = Number.isFinite(plan.maxSteps) ? this.step / plan.maxSteps : 0;
    return Math.min(1, Math.max(byWall, bySteps));
  }

  private reportProgress(force: boolean): void {
    const now = performance.now();
    if (!force && now - this.lastProgress < PROGRESS_INTERVAL_MS) return;
    this.lastProgress = now;
    const { plan } = this;
    const epochs = plan.maxEpochs > 0 ? `/${plan.maxEpochs}` : '';
    this.io.progress(
      this.progressFraction(),
      `epoch ${this.epochIndex + 1}${epochs}, step ${this.step}`,
      this.summary(),
    );
  }

  summary(): RunSummary {
    return runSummary(this.state, {
      steps: this.step,
      epochs: this.epoch,
      wallSeconds: this.wall(),
      numParameters: this.in.backend.numParameters,
    });
  }
}
