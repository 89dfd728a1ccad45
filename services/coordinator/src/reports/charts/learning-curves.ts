// Learning curves of every run overlaid, coloured by the swept field: loss and accuracy per
// evaluation (train and test side by side) and the training loss per step.
import { type ChartDraft, chartDraft, lossScale, thin } from '../chart-draft.ts';
import type { Row } from '../csv.ts';
import { colorEncoding, dashEncoding, type ReportContext, runColumns } from '../report-context.ts';

const maxPointsPerRun = 400;

function epochRows(ctx: ReportContext): Row[] {
  const rows: Row[] = [];
  for (const view of ctx.runs) {
    const base = { ...runColumns(ctx, view), color: view.color, dash: view.dash ?? null };
    for (const e of thin(view.record.epochs, maxPointsPerRun)) {
      rows.push({
        ...base,
        split: 'train',
        epoch: e.epoch,
        step: e.step,
        loss: e.trainLoss,
        accuracy: e.trainAccuracy,
      });
      rows.push({
        ...base,
        split: 'test',
        epoch: e.epoch,
        step: e.step,
        loss: e.testLoss,
        accuracy: e.testAccuracy,
      });
    }
  }
  return rows;
}

function curveBody(ctx: ReportContext, y: 'loss' | 'accuracy', rows: Row[]): Record<string, unknown> {
  const yScale =
    y === 'loss' ? lossScale(rows.map((r) => r.loss as number)) : { domain: [0, 1] as [number, number] };
  return {
    facet: { column: { field: 'split', type: 'nominal', title: null, sort: ['train', 'test'] } },
    spec: {
      width: 340,
      height: 240,
      mark: { type: 'line', strokeWidth: 1.5, opacity: 0.85 },
      encoding: {
        x: { field: 'epoch', type: 'quantitative', title: 'epoch' },
        y: { field: y, type: 'quantitative', title: y === 'loss' ? 'loss' : 'accuracy', scale: yScale },
        color: colorEncoding(ctx),
        detail: { field: 'run', type: 'nominal' },
        ...dashEncoding(ctx),
      },
    },
  };
}

function stepRows(ctx: ReportContext): Row[] {
  const rows: Row[] = [];
  for (const view of ctx.runs) {
    const base = { ...runColumns(ctx, view), color: view.color, dash: view.dash ?? null };
    const steps = view.record.steps.length > 0 ? view.record.steps : [];
    for (const s of thin(steps, maxPointsPerRun))
      rows.push({ ...base, step: s.step, epoch: s.epoch, loss: s.loss, batch_accuracy: s.batchAccuracy });
  }
  return rows;
}

export function learningCurveCharts(ctx: ReportContext): ChartDraft[] {
  const charts: ChartDraft[] = [];
  const rows = epochRows(ctx);
  const grouping = ctx.colorAxis ? `coloured by ${ctx.colorAxis.name}` : 'one colour per run';
  if (rows.length > 0) {
    charts.push(
      chartDraft(
        'learning-curves-accuracy',
        'Accuracy per epoch, train and test',
        `Every run overlaid, ${grouping}${ctx.dashAxis ? `, dashed by ${ctx.dashAxis.name}` : ''}. ` +
          'A run memorises when train accuracy reaches 1 while test accuracy stays low.',
        rows,
        curveBody(ctx, 'accuracy', rows),
      ),
      chartDraft(
        'learning-curves-loss',
        'Loss per epoch, train and test',
        `Every run overlaid, ${grouping}. Log scale when every loss is positive.`,
        rows,
        curveBody(ctx, 'loss', rows),
      ),
    );
  }
  const steps = stepRows(ctx);
  if (steps.length > 0) {
    charts.push(
      chartDraft(
        'train-loss-per-step',
        'Training loss per step',
        `Mini-batch training loss as the trainer reported it, ${grouping}.`,
        steps,
        {
          width: 700,
          height: 300,
          mark: { type: 'line', strokeWidth: 1.2, opacity: 0.8 },
          encoding: {
            x: { field: 'step', type: 'quantitative', title: 'step' },
            y: {
              field: 'loss',
              type: 'quantitative',
              title: 'training loss',
              scale: lossScale(steps.map((r) => r.loss as number)),
            },
            color: colorEncoding(ctx),
            detail: { field: 'run', type: 'nominal' },
            ...dashEncoding(ctx),
          },
        },
      ),
    );
  }
  return charts;
}
