// The trainer's domain errors. Each extends a service-kit error, so the kit's one mapping decides the
// gRPC status; the numeric code is also what a failed run stores in its JobError.
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '@gengap/service-kit';

export class UnknownDatasetError extends InvalidArgumentError {
  constructor(datasetId: string) {
    super(
      'spec.dataset.dataset_id',
      `dataset ${JSON.stringify(datasetId)} does not exist in the data service`,
    );
  }
}

export class DatasetNotReadyError extends FailedPreconditionError {
  constructor(datasetId: string, state: number) {
    super(
      `dataset ${JSON.stringify(datasetId)} has not been generated (state ${state}); wait for it to succeed`,
    );
  }
}

/** A run asks for a device this trainer does not have (CUDA without GPU or provider libraries). */
export class DeviceUnavailableError extends FailedPreconditionError {
  constructor(message: string) {
    super(message);
  }
}

export class UnknownRunError extends NotFoundError {
  constructor(runId: string) {
    super('run', runId);
  }
}

export class UnknownCheckpointError extends NotFoundError {
  constructor(runId: string, step: number) {
    super('checkpoint', step === 0 ? `${runId} (latest)` : `${runId}@${step}`);
  }
}

/** JobError.code of a run whose loss or a metric became non-finite: google.rpc.Code OUT_OF_RANGE. */
export const NON_FINITE_FAILURE_CODE = 11;

/** The loss or a metric became NaN or infinite at `step` (the run fails with NON_FINITE_FAILURE_CODE). */
export class NonFiniteLossError extends Error {
  readonly step: number;
  constructor(step: number, what: string) {
    super(`${what} became non-finite at step ${step}`);
    this.step = step;
    this.name = 'NonFiniteLossError';
  }
}
