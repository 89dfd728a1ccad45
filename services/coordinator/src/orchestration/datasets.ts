// Datasets of an experiment's cells: created through DataService.CreateDataset (idempotent on the
// spec) and followed until generated. Cells with the same dataset share one request.

import type { JobFailure } from '@gengap/job-store';
import { JobState } from '@gengap/proto/common/v1/job';
import type { Dataset, DatasetManifest, DatasetSpec } from '@gengap/proto/data/v1/dataset';
import { DatasetSpec as DatasetSpecMessage } from '@gengap/proto/data/v1/dataset';
import type { Logger } from '@gengap/service-kit';
import type { DataApi } from '../clients/service-clients.ts';
import { hashJson } from '../spec/canonical.ts';
import {
  type BackoffPolicy,
  backoffMs,
  classifyRunFailure,
  failureOf,
  isTransientCallError,
  RpcCode,
  sleep,
} from './failures.ts';

/** A dataset that cannot be made: every cell using it fails with this. */
export class DatasetFailure extends Error {
  readonly failure: JobFailure;
  constructor(failure: JobFailure) {
    super(failure.message);
    this.failure = failure;
    this.name = 'DatasetFailure';
  }
}

const TERMINAL = new Set<number>([
  JobState.JOB_STATE_SUCCEEDED,
  JobState.JOB_STATE_FAILED,
  JobState.JOB_STATE_CANCELLED,
]);

export class DatasetProvider {
  private readonly data: DataApi;
  private readonly log: Logger;
  private readonly backoff: BackoffPolicy;
  private readonly pending = new Map<string, Promise<string>>();

  constructor(data: DataApi, log: Logger, backoff: BackoffPolicy) {
    this.data = data;
    this.log = log;
    this.backoff = backoff;
  }

  /** The id of the generated dataset for `spec`; throws DatasetFailure if it cannot be made. */
  ensure(spec: DatasetSpec, signal: AbortSignal): Promise<string> {
    const key = hashJson(DatasetSpecMessage.toJSON(spec));
    let pending = this.pending.get(key);
    if (!pending) {
      pending = this.generate(spec, signal);
      this.pending.set(key, pending);
      // A failed or aborted request is not cached: the next cell asks again.
      pending.catch(() => this.pending.delete(key));
    }
    return pending;
  }

  /** The manifest of a generated dataset (split sizes, classes). */
  async manifest(datasetId: string, signal: AbortSignal): Promise<DatasetManifest> {
    const manifest = (await this.data.getDataset(datasetId, signal)).dataset?.manifest;
    if (!manifest) throw new Error(`dataset ${datasetId} has no manifest`);
    return manifest;
  }

  private async generate(spec: DatasetSpec, signal: AbortSignal): Promise<string> {
    for (let retry = 1; ; retry++) {
      try {
        const created = await this.data.createDataset(spec, signal);
        const dataset = created.dataset;
        if (!dataset) throw new Error('CreateDataset answered without a dataset');
        const done = await this.untilTerminal(dataset, signal);
        if (done.status?.state === JobState.JOB_STATE_SUCCEEDED) return done.datasetId;
        const error = done.status?.error;
        throw new DatasetFailure({
          code: error?.code || RpcCode.INTERNAL,
          message: `dataset ${done.datasetId} ${done.status?.state === JobState.JOB_STATE_CANCELLED ? 'was cancelled' : 'failed'}: ${error?.message ?? 'no reason given'}`,
          ...(error?.field ? { field: `dataset.${error.field.replace(/^spec\./, '')}` } : {}),
        });
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        if (err instanceof DatasetFailure) {
          if (classifyRunFailure(err.failure) === 'deterministic' || retry > 3) throw err;
        } else if (!isTransientCallError(err)) {
          throw new DatasetFailure(failureOf(err));
        }
        const wait = backoffMs(retry, this.backoff);
        this.log.warn({ err, retry, waitMs: wait }, 'dataset not ready; retrying');
        await sleep(wait, signal);
      }
    }
  }

  private async untilTerminal(dataset: Dataset, signal: AbortSignal): Promise<Dataset> {
    if (TERMINAL.has(dataset.status?.state ?? 0)) return dataset;
    for await (const event of this.data.watchDataset(dataset.datasetId, 0, signal)) {
      if (TERMINAL.has(event.status?.state ?? 0)) break;
    }
    const got = (await this.data.getDataset(dataset.datasetId, signal)).dataset;
    if (!got || !TERMINAL.has(got.status?.state ?? 0)) {
      // The stream ended early (the data service is stopping): retry as a transient failure.
      throw Object.assign(new Error(`dataset ${dataset.datasetId} is not finished yet`), {
        code: RpcCode.UNAVAILABLE,
      });
    }
    return got;
  }
}
