// Analysis kinds of part 2 (inputs, attacks, inversion, trajectories, parity, Detectron...). Add each
// kind here as it lands; kinds not listed in either registry are refused with UNIMPLEMENTED.
import { attackKind } from './attack.ts';
import { attributionKind } from './attribution.ts';
import { criticalSampleRatioKind } from './critical-sample-ratio.ts';
import { ensembleDisagreementKind } from './ensemble-disagreement.ts';
import { firstLearnedKind } from './first-learned.ts';
import { inputSensitivityKind } from './input-sensitivity.ts';
import { inversionKind } from './inversion.ts';
import type { AnalysisKind } from './kind.ts';
import { linearProbeKind } from './linear-probe.ts';
import { parityProgressKind } from './parity-progress.ts';
import { trajectoryKind } from './trajectory.ts';

export const part2Kinds: readonly AnalysisKind[] = [
  inversionKind,
  inputSensitivityKind,
  attackKind,
  criticalSampleRatioKind,
  attributionKind,
  trajectoryKind,
  parityProgressKind,
  firstLearnedKind,
  linearProbeKind,
  ensembleDisagreementKind,
] as readonly AnalysisKind[];
