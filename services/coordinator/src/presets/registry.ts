// Every preset, by name: what ListPresets lists and `gengap run <preset>` starts.
import { InvalidArgumentError, NotFoundError } from '@gengap/service-kit';
import { arpit2017 } from './arpit2017.ts';
import { badgerInversion } from './badger-inversion.ts';
import { badgerMemorization } from './badger-memorization.ts';
import { badgerTabular } from './badger-tabular.ts';
import { barak2022 } from './barak2022.ts';
import { barrett2021 } from './barrett2021.ts';
import { analysisKindsOf, type ExperimentSpecJson, type PresetSize } from './blocks.ts';
import { detectron } from './detectron.ts';
import { dinh2017 } from './dinh2017.ts';
import { erhan2010 } from './erhan2010.ts';
import { granziol2022 } from './granziol2022.ts';
import { hardt2016 } from './hardt2016.ts';
import { keskar2017 } from './keskar2017.ts';
import { manifold } from './manifold.ts';
import { papernot2016 } from './papernot2016.ts';
import type { PresetDefinition } from './preset.ts';
import { zhang2017 } from './zhang2017.ts';

export const PRESET_SIZES: readonly PresetSize[] = ['quick', 'full'];

export const presets: readonly PresetDefinition[] = [
  zhang2017,
  arpit2017,
  keskar2017,
  dinh2017,
  hardt2016,
  barrett2021,
  granziol2022,
  barak2022,
  papernot2016,
  badgerInversion,
  badgerTabular,
  erhan2010,
  detectron,
  badgerMemorization,
  manifold,
];

export function findPreset(name: string): PresetDefinition {
  const preset = presets.find((p) => p.name === name);
  if (!preset) throw new NotFoundError('preset', name);
  return preset;
}

/** The spec of a preset at a size ("" means quick). */
export function presetSpec(
  name: string,
  size: string,
): { preset: PresetDefinition; size: PresetSize; spec: ExperimentSpecJson } {
  const preset = findPreset(name);
  const chosen = (size || 'quick') as PresetSize;
  if (!PRESET_SIZES.includes(chosen))
    throw new InvalidArgumentError(
      'preset.size',
      `must be one of ${PRESET_SIZES.join(', ')} (got ${JSON.stringify(size)})`,
    );
  return { preset, size: chosen, spec: preset.build(chosen) };
}

/** Analysis kinds a preset uses in either size. */
export function presetAnalysisKinds(preset: PresetDefinition): string[] {
  return [...new Set(PRESET_SIZES.flatMap((s) => analysisKindsOf(preset.build(s))))];
}
