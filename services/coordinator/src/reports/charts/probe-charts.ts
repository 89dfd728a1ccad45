// Charts of what a trained model does to inputs: inversions of layer embeddings, input
// sensitivity, adversarial attacks, critical samples, attributions, linear probes and ensemble
// disagreement.
import { type ChartDraft, chartDraft } from '../chart-draft.ts';
import type { Row } from '../csv.ts';
import type { ReportContext } from '../report-context.ts';
import { axisValue, groupLabel } from '../sweep-axes.ts';
import {
  type AnalysisCharts,
  type AnalysisItem,
  curveChart,
  groupColor,
  integerAxis,
  itemColor,
  itemColumns,
  present,
  type ResultOf,
  RUN_LABEL_X,
  resultTable,
  scalarChart,
  sweptX,
} from './analysis-items.ts';

export function inversionCharts(
  ctx: ReportContext,
  items: AnalysisItem<'inversion'>[],
  name: string,
): AnalysisCharts {
  const rows: Row[] = [];
  for (const item of items)
    for (const l of item.result.layers)
      rows.push({
        ...itemColumns(ctx, item),
        layer: l.layer,
        layer_name: l.layerName,
        reconstruction_mse: l.reconstructionMse,
        embedding_loss: l.embeddingLoss,
      });
  return {
    charts: present(
      curveChart(
        ctx,
        `${name}-reconstruction`,
        'Reconstruction error per layer',
        "Mean squared error between inputs and inputs reconstructed from each layer's embedding by gradient descent on the input.",
        items,
        rows,
        {
          x: { field: 'layer', title: 'layer', axis: integerAxis },
          y: { field: 'reconstruction_mse', title: 'reconstruction MSE' },
        },
      ),
    ),
    tables: [],
    images: items.flatMap((item) =>
      item.result.layers
        .filter((l) => l.pngArtifact)
        .map((l) => ({
          analysisId: item.analysis.analysisId,
          artifact: l.pngArtifact,
          caption: `${item.label}: layer ${l.layer}${l.layerName ? ` (${l.layerName})` : ''}, originals on top, reconstructions below (MSE ${l.reconstructionMse.toPrecision(3)}).`,
        })),
    ),
  };
}

/** Whether the analysis split its Jacobians along a subspace basis (InputSensitivity.subspace_basis). */
function hasSubspaceSplit(r: ResultOf<'inputSensitivity'>): boolean {
  return r.alongJacobianNorms.length > 0;
}

const SPLIT_CAPTION =
  'Mean Frobenius norms of the input Jacobian d logits / d x along the stored subspace basis U (||J U||) and across it (||J (I - U U^T)||), over the analysed examples (solid lines and circles: along; dashed lines and triangles: transverse). Per example, the squares of the two add up to the squared full norm.';

/**
 * The along/transverse means of the items that have them: against the first numeric swept axis
 * (other axes as colour, the part as dash), against the checkpoint step when measured during
 * training, else paired bars per run.
 */
function jacobianSplitChart(
  ctx: ReportContext,
  id: string,
  items: readonly AnalysisItem<'inputSensitivity'>[],
): ChartDraft | undefined {
  const split = items.filter((i) => hasSubspaceSplit(i.result));
  if (split.length === 0) return undefined;
  const axis = ctx.axes.find((a) => a.kind === 'numeric');
  const others = ctx.axes.filter((a) => a !== axis);
  const overTraining = new Set(split.map((i) => i.step)).size > 1;
  const rows: Row[] = [];
  for (const item of split) {
    for (const [part, value] of [
      ['along', item.result.meanAlongJacobianNorm],
      ['transverse', item.result.meanTransverseJacobianNorm],
    ] as const) {
      const row: Row = { ...itemColumns(ctx, item), part, mean_jacobian_norm: value };
      if (axis && item.run) {
        row.x = axisValue(item.run.record.run, axis);
        row.group = groupLabel(item.run.record.run, others);
      }
      rows.push(row);
    }
  }
  const y = { field: 'mean_jacobian_norm', type: 'quantitative', title: 'mean input-Jacobian norm' };
  const dash = {
    field: 'part',
    type: 'nominal',
    title: 'part',
    scale: {
      domain: ['along', 'transverse'],
      range: [
        [1, 0],
        [6, 4],
      ],
    },
  };
  const shape = {
    field: 'part',
    type: 'nominal',
    title: 'part',
    scale: { domain: ['along', 'transverse'], range: ['circle', 'triangle-up'] },
  };
  const title = 'Input-Jacobian along and across the subspace';
  if (overTraining) {
    return chartDraft(id, `${title} during training`, SPLIT_CAPTION, rows, {
      width: 560,
      height: 280,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'checkpoint_step', type: 'quantitative', title: 'step of the checkpoint' },
        y,
        color: itemColor(ctx, split),
        strokeDash: dash,
        detail: [
          { field: 'run', type: 'nominal' },
          { field: 'part', type: 'nominal' },
        ],
      },
    });
  }
  if (axis && split.every((i) => i.run)) {
    const color = groupColor(ctx, others);
    const x = sweptX(axis);
    return chartDraft(id, `${title} vs ${axis.name}`, SPLIT_CAPTION, rows, {
      width: 560,
      height: 280,
      layer: [
        {
          mark: { type: 'line' },
          encoding: {
            x,
            y: { ...y, aggregate: 'mean' },
            strokeDash: dash,
            detail: { field: 'part', type: 'nominal' },
            ...color,
          },
        },
        { mark: { type: 'point', filled: true, size: 55 }, encoding: { x, y, shape, ...color } },
      ],
    });
  }
  return chartDraft(id, `${title} per run`, SPLIT_CAPTION, rows, {
    width: { step: 28 },
    height: 260,
    mark: { type: 'bar' },
    encoding: {
      x: RUN_LABEL_X,
      xOffset: { field: 'part', type: 'nominal' },
      y,
      color: { field: 'part', type: 'nominal', title: 'part' },
    },
  });
}

export function inputSensitivityCharts(
  ctx: ReportContext,
  items: AnalysisItem<'inputSensitivity'>[],
  name: string,
): AnalysisCharts {
  const rows: Row[] = [];
  for (const item of items) {
    const h = item.result.histogram;
    h?.x.forEach((x, i) => {
      rows.push({ ...itemColumns(ctx, item), loss_gradient_norm: x, count: h.y[i] ?? null });
    });
  }
  return {
    charts: present(
      curveChart(
        ctx,
        `${name}-histogram`,
        'Loss sensitivity',
        'Histogram of per-example input-gradient norms ||d loss / d x||.',
        items,
        rows,
        {
          x: { field: 'loss_gradient_norm', title: '||d loss / d x||' },
          y: { field: 'count', title: 'examples' },
        },
      ),
      scalarChart(
        ctx,
        `${name}-jacobian`,
        items,
        { field: 'mean_jacobian_norm', title: 'Mean input-Jacobian norm', value: (r) => r.meanJacobianNorm },
        'Mean Frobenius norm of d logits / d x over the analysed examples.',
      ),
      jacobianSplitChart(ctx, `${name}-jacobian-split`, items),
    ),
    tables: [
      resultTable(ctx, `${name}-sensitivity`, 'Input sensitivity', items, (r) => ({
        mean_loss_gradient_norm: r.meanLossGradientNorm,
        mean_jacobian_norm: r.meanJacobianNorm,
        mean_along_jacobian_norm: hasSubspaceSplit(r) ? r.meanAlongJacobianNorm : null,
        mean_transverse_jacobian_norm: hasSubspaceSplit(r) ? r.meanTransverseJacobianNorm : null,
        examples: r.lossGradientNorms.length,
      })),
    ],
  };
}

export function attackCharts(
  ctx: ReportContext,
  items: AnalysisItem<'attack'>[],
  name: string,
): AnalysisCharts {
  return {
    charts: present(
      scalarChart(
        ctx,
        `${name}-success`,
        items,
        { field: 'success_rate', title: 'Attack success rate', value: (r) => r.successRate },
        'Fraction of correctly classified inputs the attack turned into mistakes.',
      ),
    ),
    tables: [
      resultTable(ctx, `${name}-attack`, 'Adversarial attack', items, (r) => ({
        success_rate: r.successRate,
        clean_accuracy: r.cleanAccuracy,
        adversarial_accuracy: r.adversarialAccuracy,
        mean_perturbation_linf: r.meanPerturbationLinf,
        mean_perturbation_l2: r.meanPerturbationL2,
        mean_features_changed: r.meanFeaturesChanged,
        mean_input_gradient_norm: r.meanInputGradientNorm,
        mean_loss_increase: r.meanLossIncrease,
      })),
    ],
  };
}

export function criticalSampleCharts(
  ctx: ReportContext,
  items: AnalysisItem<'criticalSampleRatio'>[],
  name: string,
): AnalysisCharts {
  return {
    charts: present(
      scalarChart(
        ctx,
        `${name}-ratio`,
        items,
        { field: 'critical_sample_ratio', title: 'Critical sample ratio', value: (r) => r.ratio },
        'Arpit et al.: fraction of examples with an adversarial example inside the L-inf box; higher means a more complex decision boundary.',
      ),
    ),
    tables: [
      resultTable(ctx, `${name}-csr`, 'Critical sample ratio', items, (r) => ({
        ratio: r.ratio,
        critical: r.critical,
        examined: r.examined,
      })),
    ],
  };
}

export function attributionCharts(
  ctx: ReportContext,
  items: AnalysisItem<'attribution'>[],
  name: string,
): AnalysisCharts {
  const fieldRows: Row[] = [];
  const pixelRows: Row[] = [];
  for (const item of items) {
    const r = item.result;
    r.perField.forEach((v, i) => {
      fieldRows.push({ ...itemColumns(ctx, item), field: r.fieldNames[i] ?? `field ${i}`, attribution: v });
    });
    const side = Math.round(Math.sqrt(r.perElement.length));
    if (r.perField.length === 0 && side * side === r.perElement.length && side > 1)
      r.perElement.forEach((v, i) => {
        pixelRows.push({
          ...itemColumns(ctx, item),
          row: Math.floor(i / side),
          column: i % side,
          attribution: v,
        });
      });
  }
  const charts = [];
  if (fieldRows.length > 0)
    charts.push(
      chartDraft(
        `${name}-fields`,
        'Attribution per field',
        'Mean absolute attribution of each tabular field.',
        fieldRows,
        {
          width: { step: 18 },
          height: 260,
          mark: { type: 'bar' },
          encoding: {
            x: { field: 'field', type: 'nominal', title: null, sort: '-y', axis: { labelAngle: -40 } },
            y: { aggregate: 'mean', field: 'attribution', type: 'quantitative', title: 'mean |attribution|' },
            ...(items.length > 1
              ? {
                  xOffset: { field: 'label', type: 'nominal' },
                  color: { field: 'label', type: 'nominal', title: 'run' },
                }
              : {}),
          },
        },
      ),
    );
  if (pixelRows.length > 0)
    charts.push(
      chartDraft(
        `${name}-pixels`,
        'Attribution per pixel',
        'Mean absolute attribution per input pixel, one panel per analysed checkpoint.',
        pixelRows,
        {
          facet: { field: 'label', type: 'nominal', title: null },
          columns: 4,
          spec: {
            width: 150,
            height: 150,
            mark: { type: 'rect' },
            encoding: {
              x: { field: 'column', type: 'ordinal', axis: null },
              y: { field: 'row', type: 'ordinal', axis: null },
              color: {
                field: 'attribution',
                type: 'quantitative',
                title: '|attribution|',
                scale: { scheme: 'inferno' },
              },
            },
          },
        },
      ),
    );
  return { charts, tables: [] };
}

export function linearProbeCharts(
  ctx: ReportContext,
  items: AnalysisItem<'linearProbe'>[],
  name: string,
): AnalysisCharts {
  const rows: Row[] = [];
  for (const item of items)
    for (const l of item.result.layers) {
      rows.push({ ...itemColumns(ctx, item), layer: l.layer, split: 'train', accuracy: l.trainAccuracy });
      rows.push({ ...itemColumns(ctx, item), layer: l.layer, split: 'test', accuracy: l.testAccuracy });
    }
  return {
    charts: present(
      curveChart(
        ctx,
        `${name}-probe`,
        'Linear probe accuracy per layer',
        "Softmax regression on each layer's activations; solid train, dashed test.",
        items,
        rows,
        {
          x: { field: 'layer', title: 'layer', axis: integerAxis },
          y: { field: 'accuracy', title: 'probe accuracy', scale: { domain: [0, 1] } },
          dash: { field: 'split', title: 'split' },
        },
      ),
    ),
    tables: [],
  };
}

export function ensembleDisagreementCharts(
  ctx: ReportContext,
  items: AnalysisItem<'ensembleDisagreement'>[],
  name: string,
): AnalysisCharts {
  return {
    charts: present(
      scalarChart(
        ctx,
        `${name}-disagreement`,
        items,
        { field: 'disagreement_rate', title: 'Ensemble disagreement rate', value: (r) => r.disagreementRate },
        'Detectron: how often ensemble members disagree on the analysed split.',
      ),
    ),
    tables: [
      resultTable(ctx, `${name}-disagreement`, 'Ensemble disagreement', items, (r) => ({
        disagreement_rate: r.disagreementRate,
        mean_entropy: r.meanEntropy,
        examples: r.perExampleEntropy.length,
      })),
    ],
  };
}
