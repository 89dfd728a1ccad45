// What the report builder needs, gathered by the coordinator from its own store. This interface is
// the seam between orchestration (which records runs, metrics and analyses) and reporting (which only
// reads them): neither side knows how the other works.
import type { Analysis } from '@gengap/proto/analysis/v1/analysis';
import type { Experiment, ExperimentRun } from '@gengap/proto/coordinator/v1/experiment';
import type { DatasetManifest } from '@gengap/proto/data/v1/dataset';
import type { EpochMetrics, StepMetrics, TimeToFit } from '@gengap/proto/trainer/v1/run';

export interface RunRecord {
  /** The cell: swept parameters (axis name -> JSON value text), seed, status, summary. */
  run: ExperimentRun;
  /** Evaluations in step order (train/test loss and accuracy per epoch). */
  epochs: EpochMetrics[];
  /** Step metrics in step order (possibly thinned for long runs). */
  steps: StepMetrics[];
  timeToFit: TimeToFit | undefined;
}

export interface DatasetSample {
  datasetId: string;
  manifest: DatasetManifest | undefined;
  /** PNG grid of a few training examples (image datasets only). */
  png: Uint8Array | undefined;
}

/** An artifact of an analysis (e.g. an inversion PNG grid), read with ReadAnalysisArtifact. */
export interface AnalysisArtifactBytes {
  analysisId: string;
  /** The name listed in AnalysisResult.artifacts. */
  name: string;
  bytes: Uint8Array;
}

export interface ReportInput {
  experiment: Experiment;
  runs: RunRecord[];
  /** Analyses attached to runs or to the experiment, with their results. */
  analyses: Analysis[];
  datasets: DatasetSample[];
  /** Preset notes, e.g. analyses the preset would run that are not implemented yet. */
  notes: string[];
  generatedAt: Date;
  /** PNG artifacts of analyses to show in the report (optional; names without bytes are listed). */
  artifacts?: AnalysisArtifactBytes[];
}

export interface ReportOutput {
  /** Absolute path of index.html. */
  htmlPath: string;
  /** Every file written (charts as SVG, data as CSV/JSON). */
  files: string[];
  /** Charts that could not be drawn (left out of the page and listed in its notes). */
  problems?: string[];
}
