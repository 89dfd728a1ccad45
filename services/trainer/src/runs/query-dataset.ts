// The query dataset of a disagreement run (RunSpec.disagreement.query), checked at StartRun and read
// again by every attempt: its manifest, with errors that name the query's field rather than the
// run's own dataset, and the plan of its examples (run-spec.ts planQuery).
import type { RunSpec } from '@gengap/proto/trainer/v1/run';
import { InvalidArgumentError } from '@gengap/service-kit';
import type { DatasetReader } from '../datasets/dataset-source.ts';
import { UnknownDatasetError } from './errors.ts';
import { planQuery, type QueryPlan } from './objective-spec.ts';

/** The query plan of a disagreement run; undefined for other runs. */
export async function queryPlanOf(
  datasets: DatasetReader,
  spec: RunSpec,
  signal?: AbortSignal,
): Promise<QueryPlan | undefined> {
  const datasetId = spec.disagreement?.query?.datasetId;
  if (!datasetId) return undefined;
  try {
    return planQuery(spec, await datasets.info(datasetId, signal));
  } catch (err) {
    if (err instanceof UnknownDatasetError)
      throw new InvalidArgumentError(
        'spec.disagreement.query.dataset_id',
        `dataset ${JSON.stringify(datasetId)} does not exist in the data service`,
      );
    throw err;
  }
}
