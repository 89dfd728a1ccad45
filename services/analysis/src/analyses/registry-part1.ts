// Analysis kinds of part 1: Hessian spectra, sharpness, loss landscapes, rescaling, stability.
import { hessianEigenKind } from './hessian-eigen.ts';
import { hessianTraceKind } from './hessian-trace.ts';
import type { AnalysisKind } from './kind.ts';
import { interpolationKind, randomSliceKind } from './landscape.ts';
import { rescaleKind } from './rescale.ts';
import { sharpnessKind } from './sharpness.ts';
import { spectralDensityKind } from './spectral-density.ts';
import { generalizationGapKind, lateTrainingStatisticsKind, stabilityKind } from './stability.ts';

export const part1Kinds: readonly AnalysisKind[] = [
  hessianEigenKind,
  hessianTraceKind,
  spectralDensityKind,
  sharpnessKind,
  interpolationKind,
  randomSliceKind,
  rescaleKind,
  stabilityKind,
  generalizationGapKind,
  lateTrainingStatisticsKind,
] as readonly AnalysisKind[];
