// What a preset is: a named experiment from the mission's papers, in a `quick` size (a few minutes on
// a 2-core CPU) and a `full` size (the paper's setup as far as the available data allows).
import type { ExperimentSpecJson, PresetSize } from './blocks.ts';

export interface PresetDefinition {
  name: string;
  title: string;
  /** What it shows and how it differs from the paper. */
  description: string;
  /** Short names from MISSION.md (Z, A, K...). */
  papers: string[];
  build(size: PresetSize): ExperimentSpecJson;
  /**
   * Parts of the paper's protocol that no GenGap service can run yet, and why; the preset runs
   * without them and says so (ListPresets' missing_analyses, the report's notes).
   */
  unsupported: string[];
}
