// ATTRIBUTION (Badger's tabular models; Captum-style occlusion and gradient x input), for the model as
// deployed (temperature 1), of the logit of each example's label:
//  - GRADIENT_X_INPUT: x * d z_y / d x per input element; for models reading character codes, the
//    gradient with respect to the embedding output times the embedding, summed over its dimension
//    (one value per character position);
//  - OCCLUSION: z_y(x) - z_y(x with a window set to `baseline`): square `patch_size` patches (stride =
//    size, all channels) for images, runs of `patch_size` features for other vectors, single characters
//    for character-coded rows; every element of a window gets the window's value.
// per_element is the mean over examples of |attribution| per element (flattened input shape). For
// character-coded rows with a field width (the spec's, else the tabular dataset's), per_field is the
// mean of |attribution of the field|: the sum over its characters (gradient x input) or the change when
// the whole field is occluded (occlusion). Examples are processed `batch_size` at a time (the engine
// graph's batch too), and only per-element sums are kept, so memory stays bounded by the batch
// whatever the number of examples or windows. Field names come from the CSV header for csv_text tables
// (minus the target and dropped columns), otherwise "field <k>".
import { AttributionMethod } from '@gengap/proto/analysis/v1/analysis';
import type { DatasetSpec } from '@gengap/proto/data/v1/dataset';
import { InvalidArgumentError } from '@gengap/service-kit';
import type { FloatArray } from '../adversarial/input-oracle.ts';
import type { AnalysisModel } from '../inputs/analysis-model.ts';
import type { ExampleInputs, ExampleSet } from '../inputs/examples.ts';
import { requireAtMost, requireFinite } from './checks.ts';
import {
  deployedModel,
  type ImageGeometry,
  imageGeometry,
  nativeParameters,
  readsCodes,
} from './input-space.ts';
import { defineKind, type ProgressReporter } from './kind.ts';
import { barChart } from './plots.ts';

const FIELD = 'spec.attribution';
const METHODS = new Set<number>([
  AttributionMethod.ATTRIBUTION_METHOD_OCCLUSION,
  AttributionMethod.ATTRIBUTION_METHOD_GRADIENT_X_INPUT,
]);

/** The columns of a CSV header line (RFC 4180 quoting). */
export function csvHeader(text: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') break;
    else field += c;
  }
  fields.push(field);
  return fields;
}

/** Names of the encoded fields of a tabular dataset, when its spec carries the CSV text. */
export function tabularFieldNames(spec: DatasetSpec | undefined, fields: number): string[] {
  const source = spec?.source;
  if (source?.$case === 'tabular' && source.value.table?.$case === 'csvText') {
    const dropped = new Set([source.value.targetColumn, ...source.value.dropColumns]);
    const names = csvHeader(source.value.table.value).filter((name) => !dropped.has(name));
    if (names.length === fields) return names;
  }
  return Array.from({ length: fields }, (_, k) => `field ${k}`);
}

/** Windows of input elements occluded together, for per-element attribution. */
export function occlusionWindows(
  rowSize: number,
  geometry: ImageGeometry | undefined,
  patch: number,
  codes: boolean,
): number[][] {
  const windows: number[][] = [];
  if (codes) {
    for (let j = 0; j < rowSize; j++) windows.push([j]);
    return windows;
  }
  if (geometry) {
    const { channels, height, width } = geometry;
    for (let top = 0; top < height; top += patch) {
      for (let left = 0; left < width; left += patch) {
        const window: number[] = [];
        for (let c = 0; c < channels; c++) {
          for (let r = top; r < Math.min(height, top + patch); r++) {
            for (let q = left; q < Math.min(width, left + patch); q++)
              window.push(c * height * width + r * width + q);
          }
        }
        windows.push(window);
      }
    }
    return windows;
  }
  for (let start = 0; start < rowSize; start += patch) {
    windows.push(Array.from({ length: Math.min(patch, rowSize - start) }, (_, k) => start + k));
  }
  return windows;
}

function fieldWidthOf(v: { fieldWidth: number }, examples: ExampleSet, codes: boolean): number {
  if (v.fieldWidth) return v.fieldWidth;
  const source = examples.datasetSpec?.source;
  if (codes && source?.$case === 'tabular') return source.value.fieldWidth || 8;
  return 0;
}

/** A heatmap of per-pixel values (channels summed), rows top to bottom. */
function pixelHeatmap(
  title: string,
  geometry: ImageGeometry,
  values: readonly number[],
): Record<string, unknown> {
  const { channels, height, width } = geometry;
  const rows = Array.from({ length: height * width }, (_, p) => {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += values[c * height * width + p]!;
    return { column: p % width, row: Math.floor(p / width), attribution: sum };
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: { values: rows },
    mark: 'rect',
    encoding: {
      x: { field: 'column', type: 'ordinal', title: null, axis: null },
      y: { field: 'row', type: 'ordinal', title: null, axis: null },
      color: {
        field: 'attribution',
        type: 'quantitative',
        title: 'mean |attribution|',
        scale: { scheme: 'viridis' },
      },
    },
  };
}

/** Running sums of |attribution| per element and per field, fed batch by batch. */
class AttributionSums {
  readonly elements: Float64Array;
  readonly fields: Float64Array;
  readonly baseline: number;
  private readonly model: AnalysisModel;
  private readonly parameters: FloatArray;
  private readonly row: number;
  private readonly width: number;
  private readonly fieldWindows: number[][];

  constructor(model: AnalysisModel, row: number, fieldWidth: number, baseline: number) {
    const fields = fieldWidth > 0 ? row / fieldWidth : 0;
    this.model = model;
    this.parameters = nativeParameters(model);
    this.row = row;
    this.width = fieldWidth;
    this.baseline = baseline;
    this.elements = new Float64Array(row);
    this.fields = new Float64Array(fields);
    this.fieldWindows = Array.from({ length: fields }, (_, k) =>
      Array.from({ length: fieldWidth }, (_, c) => k * fieldWidth + c),
    );
  }

  private async labelLogits(x: ExampleInputs, y: Int32Array): Promise<Float64Array> {
    const { logits } = await this.model.engine.evaluate(x, y, { parameters: this.parameters });
    const classes = this.model.engine.numOutputs;
    return Float64Array.from(y, (label, i) => logits[i * classes + label]!);
  }

  /** Per-element windows, then (for tabular rows) whole fields. */
  async occlusion(
    x: ExampleInputs,
    y: Int32Array,
    windows: number[][],
    progress: ProgressReporter,
  ): Promise<void> {
    const fields = this.fieldWindows.length > 0;
    await this.occlude(x, y, windows, false, progress.span(0, fields ? 0.5 : 1));
    if (fields) await this.occlude(x, y, this.fieldWindows, true, progress.span(0.5, 1));
  }

  /** Adds |z_y(x) - z_y(x with the window at the baseline)| to the window's elements (or its field). */
  private async occlude(
    x: ExampleInputs,
    y: Int32Array,
    groups: number[][],
    perGroup: boolean,
    progress: ProgressReporter,
  ) {
    const row = this.row;
    const base = await this.labelLogits(x, y);
    const occluded = x.slice();
    for (const [g, group] of groups.entries()) {
      for (let i = 0; i < y.length; i++) for (const j of group) occluded[i * row + j] = this.baseline;
      const changed = await this.labelLogits(occluded, y);
      let total = 0;
      for (let i = 0; i < y.length; i++) total += Math.abs(base[i]! - changed[i]!);
      if (perGroup) this.fields[g]! += total;
      else for (const j of group) this.elements[j]! += total;
      for (let i = 0; i < y.length; i++) for (const j of group) occluded[i * row + j] = x[i * row + j]!;
      if (g % 16 === 15) await progress.report((g + 1) / groups.length);
    }
  }

  /** x * d z_y / d x per element (summed over the embedding dimension for code inputs), and per field. */
  async gradientTimesInput(x: ExampleInputs, y: Int32Array, progress: ProgressReporter): Promise<void> {
    const row = this.row;
    const g = await this.model.engine.logitInputGradient(x, y, { parameters: this.parameters });
    const inputs = g.embedding ?? x;
    const depth = g.gradient.length / (y.length * row);
    const fieldTotals = new Float64Array(this.fields.length);
    for (let i = 0; i < y.length; i++) {
      fieldTotals.fill(0);
      for (let j = 0; j < row; j++) {
        let a = 0;
        for (let d = 0; d < depth; d++) {
          const at = (i * row + j) * depth + d;
          a += g.gradient[at]! * inputs[at]!;
        }
        this.elements[j]! += Math.abs(a);
        if (fieldTotals.length) fieldTotals[Math.floor(j / this.width)]! += a;
      }
      for (let k = 0; k < fieldTotals.length; k++) this.fields[k]! += Math.abs(fieldTotals[k]!);
    }
    await progress.report(1);
  }
}

/** Bars per field (tabular), a heatmap per pixel (images), or bars per element. */
function attributionPlot(
  what: string,
  perElement: number[],
  perField: number[],
  fieldNames: string[],
  geometry: ImageGeometry | undefined,
): Record<string, unknown> {
  if (perField.length) {
    return barChart({
      title: `Attribution per field (${what})`,
      rows: fieldNames.map((name, k) => ({ field: name, attribution: perField[k]! })),
      x: { field: 'field', title: 'field' },
      y: { field: 'attribution', title: 'mean |attribution|' },
    });
  }
  if (geometry) return pixelHeatmap(`Attribution per pixel (${what}, channels summed)`, geometry, perElement);
  return barChart({
    title: `Attribution per input element (${what})`,
    rows: perElement.map((a, j) => ({ element: j, attribution: a })),
    x: { field: 'element', title: 'element' },
    y: { field: 'attribution', title: 'mean |attribution|' },
  });
}

export const attributionKind = defineKind({
  name: 'attribution',
  validate(v) {
    if (!METHODS.has(v.method))
      throw new InvalidArgumentError(`${FIELD}.method`, 'must be OCCLUSION or GRADIENT_X_INPUT');
    requireAtMost(`${FIELD}.patch_size`, v.patchSize, 4096);
    requireAtMost(`${FIELD}.field_width`, v.fieldWidth, 4096);
    requireAtMost(`${FIELD}.batch_size`, v.batchSize, 65_536);
    requireFinite(`${FIELD}.baseline`, v.baseline);
  },
  async run(ctx, v) {
    const batch = v.batchSize || 256;
    const model = await deployedModel(ctx, { chunkSize: batch });
    const examples = await ctx.inputs.examples();
    const codes = readsCodes(model);
    const row = examples.rowSize;
    const width = fieldWidthOf(v, examples, codes);
    if (width > 0 && row % width !== 0) {
      throw new InvalidArgumentError(
        `${FIELD}.field_width`,
        `${width} does not divide the ${row} input elements`,
      );
    }
    const geometry = codes ? undefined : imageGeometry(examples);
    const patch = v.patchSize || 4;
    const occlusion = v.method === AttributionMethod.ATTRIBUTION_METHOD_OCCLUSION;
    const sums = new AttributionSums(model, row, width, codes ? Math.round(v.baseline) : v.baseline);
    const windows = occlusion ? occlusionWindows(row, geometry, patch, codes) : [];
    const n = examples.count;
    for (let start = 0; start < n; start += batch) {
      const end = Math.min(n, start + batch);
      const xb = examples.x.subarray(start * row, end * row);
      const yb = examples.y.subarray(start, end);
      const progress = ctx.progress.span(start / n, end / n, `examples ${end}/${n}`);
      if (occlusion) await sums.occlusion(xb, yb, windows, progress);
      else await sums.gradientTimesInput(xb, yb, progress);
    }
    const perElement = [...sums.elements].map((s) => s / n);
    const perField = [...sums.fields].map((s) => s / n);
    const fieldNames = sums.fields.length ? tabularFieldNames(examples.datasetSpec, sums.fields.length) : [];
    const method = occlusion ? 'occlusion' : 'gradient x input';
    return {
      result: { $case: 'attribution', value: { perElement, perField, fieldNames } },
      plot: attributionPlot(
        `${method}, mean |attribution| over ${n} examples`,
        perElement,
        perField,
        fieldNames,
        geometry,
      ),
      table: perField.length
        ? {
            columns: ['field', 'name', 'mean_abs_attribution'],
            rows: perField.map((a, k) => [k, fieldNames[k]!, a]),
          }
        : { columns: ['element', 'mean_abs_attribution'], rows: perElement.map((a, j) => [j, a]) },
      details: {
        method,
        examples: n,
        batchSize: batch,
        target: 'logit of the label',
        fieldWidth: width,
        windows: windows.length,
        patchSize: occlusion && !codes ? patch : 0,
        baseline: sums.baseline,
        image: geometry ?? null,
      },
    };
  },
});
