// The datasets the runs trained on: a grid of training examples per dataset (image datasets) and
// the statistics of each split as generated (sizes, classes, fraction of corrupted labels).
import type { Corruption, DatasetSpec } from '@gengap/proto/data/v1/dataset';
import type { Row } from './csv.ts';
import type { ReportContext } from './report-context.ts';
import type { ReportTable } from './run-tables.ts';
import { compactLabel } from './sweep-axes.ts';

/** A message without its default-valued fields, so labels show only what was set. */
function withoutDefaults(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? undefined : value.map(withoutDefaults);
  if (value === null || typeof value !== 'object') {
    return value === 0 || value === false || value === '' ? undefined : value;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const kept = withoutDefaults(v);
    if (kept !== undefined) out[k] = kept;
  }
  return out;
}

function oneofLabel(kind: { $case: string; value: unknown } | undefined): string {
  if (!kind) return 'none';
  const fields = withoutDefaults(kind.value) as Record<string, unknown> | undefined;
  const inner = fields && Object.keys(fields).length > 0 ? compactLabel(fields) : '';
  return inner ? `${kind.$case}(${inner})` : kind.$case;
}

export function datasetSourceLabel(spec: DatasetSpec | undefined): string {
  return oneofLabel(spec?.source);
}

export function corruptionsLabel(corruptions: readonly Corruption[]): string {
  return corruptions.length === 0 ? 'none' : corruptions.map((c) => oneofLabel(c.kind)).join(' + ');
}

export interface DatasetImage {
  datasetId: string;
  png: Uint8Array;
  caption: string;
}

export function datasetSection(ctx: ReportContext): { table: ReportTable; images: DatasetImage[] } {
  const usedBy = new Map<string, string[]>();
  for (const view of ctx.runs) {
    const id = view.record.run.datasetId;
    if (!id) continue;
    const list = usedBy.get(id) ?? [];
    list.push(view.label);
    usedBy.set(id, list);
  }
  const rows: Row[] = [];
  const images: DatasetImage[] = [];
  for (const sample of ctx.input.datasets) {
    const m = sample.manifest;
    const users = usedBy.get(sample.datasetId) ?? [];
    const corruptions = corruptionsLabel(m?.spec?.corruptions ?? []);
    rows.push({
      dataset_id: sample.datasetId,
      source: datasetSourceLabel(m?.spec),
      corruptions,
      classes: m?.numClasses ?? null,
      train_examples: m?.train?.numExamples ?? null,
      test_examples: m?.test?.numExamples ?? null,
      input_shape: m?.train?.inputShape.join('x') ?? '',
      train_label_corruption: m?.train?.labelCorruptionFraction ?? null,
      train_input_mean: m?.train?.inputMean ?? null,
      train_input_std: m?.train?.inputStd ?? null,
      runs: users.length,
      used_by: users.join('; '),
    });
    if (sample.png && sample.png.length > 0) {
      const who =
        users.length > 0 ? ` Used by ${users.slice(0, 4).join('; ')}${users.length > 4 ? '…' : ''}.` : '';
      images.push({
        datasetId: sample.datasetId,
        png: sample.png,
        caption: `Training examples of ${datasetSourceLabel(m?.spec)}, corruptions: ${corruptions}.${who}`,
      });
    }
  }
  return {
    table: {
      id: 'datasets',
      title: 'Datasets',
      caption: 'Statistics computed when each dataset was generated.',
      columns: [
        { field: 'dataset_id', header: 'dataset' },
        { field: 'source', header: 'source', format: 'text' },
        { field: 'corruptions', header: 'corruptions', format: 'text' },
        { field: 'classes', header: 'classes' },
        { field: 'train_examples', header: 'train' },
        { field: 'test_examples', header: 'test' },
        { field: 'input_shape', header: 'input shape', format: 'text' },
        { field: 'train_label_corruption', header: 'labels corrupted', format: 'percent' },
        { field: 'runs', header: 'runs' },
      ],
      rows,
    },
    images,
  };
}
