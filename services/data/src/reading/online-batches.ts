// Batches of an online (n, k)-sparse parity dataset. Example j of the train generator is a function
// of (seed, j) only, so batch b of size B (examples b*B .. b*B+B-1) is the same on every call. Label
// noise that selects the train split is applied per example with its own stream, so a noisy label is
// drawn once and never changes between reads.
import { type DatasetSpec, SplitSelection } from '@gengap/proto/data/v1/dataset';
import { splitsOf } from '../corruptions/context.ts';
import { itemStream } from '../datasets/draws.ts';
import { ONLINE_TRAIN_STREAM, parityExample } from '../datasets/sparse-parity.ts';

export interface OnlineBatch {
  x: Float32Array;
  y: Int32Array;
}

interface OnlineNoise {
  stream: string;
  fraction: number;
}

function onlineNoises(spec: DatasetSpec): OnlineNoise[] {
  const out: OnlineNoise[] = [];
  let occurrence = 0;
  for (const c of spec.corruptions) {
    if (c.kind?.$case !== 'labelNoise') continue;
    const k = occurrence++;
    const splits = c.kind.value.splits || SplitSelection.SPLIT_SELECTION_TRAIN;
    if (splitsOf(splits).includes('train')) {
      out.push({ stream: `corruption.labelNoise#${k}/online`, fraction: c.kind.value.fraction });
    }
  }
  return out;
}

/** Examples `first .. first + count - 1` of the online train generator (spec must be canonical). */
export function onlineExamples(spec: DatasetSpec, first: number, count: number): OnlineBatch {
  if (spec.source?.$case !== 'sparseParity' || !spec.source.value.online) {
    throw new Error('not an online sparse parity dataset');
  }
  const source = spec.source.value;
  const n = source.numBits;
  const x = new Float32Array(count * n);
  const y = new Int32Array(count);
  const noises = onlineNoises(spec);
  for (let i = 0; i < count; i++) {
    const j = first + i;
    let label = parityExample(spec.seed, ONLINE_TRAIN_STREAM, j, source, x, i * n);
    for (const noise of noises) {
      const rng = itemStream(spec.seed, noise.stream, j);
      if (rng.uniform() < noise.fraction) label = rng.int(2);
    }
    y[i] = label;
  }
  return { x, y };
}

export function onlineBatch(spec: DatasetSpec, batchIndex: number, batchSize: number): OnlineBatch {
  return onlineExamples(spec, batchIndex * batchSize, batchSize);
}
