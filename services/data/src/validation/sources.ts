// Checks and canonical form of each source: defaults resolved ("0 means ..."), hidden choices that
// the seed makes written out (sparse parity's hidden coordinates), and what the source will produce
// (sizes, shape, class counts where known) for the corruption checks and the size limit.
import {
  type DatasetSpec,
  type FashionMnistSource,
  type GaussianMixtureSource,
  type MnistSource,
  PixelScaling,
  type SparseParitySource,
  SubspaceLabel,
  type SubspaceSource,
  type TabularSource,
} from '@gengap/proto/data/v1/dataset';
import { FASHION_CLASS_COUNTS, FASHION_TEST_SIZE, FASHION_TRAIN_SIZE } from '../datasets/fashion-mnist.ts';
import { balancedCounts } from '../datasets/gaussian-mixture.ts';
import { MNIST_CLASS_COUNTS, MNIST_TEST_SIZE, MNIST_TRAIN_SIZE } from '../datasets/mnist.ts';
import { drawHiddenCoordinates } from '../datasets/sparse-parity.ts';
import { BUILTIN_TABLES, parseTable, tabularLayout } from '../datasets/tabular.ts';
import { checkEnum, checkFinite, checkInt } from './checks.ts';
import { type DataLimits, FIELD_LIMITS } from './limits.ts';
import { SpecError } from './spec-error.ts';

/** What validation knows of a split before generating it. */
export interface SplitPlan {
  /** Number of examples (an upper bound when `exact` is false). */
  n: number;
  exact: boolean;
  /** Examples per class, when known before generating. */
  classCounts: number[] | undefined;
  /** Whether labels were corrupted (a y_clean file is stored). */
  labelsCorrupted: boolean;
}

export interface SourcePlan {
  inputShape: number[];
  numClasses: number;
  /** Images (rotation and PNG grids apply). */
  image: boolean;
  /** Inputs are integers (character codes, +-1 bits), so integer dtypes can carry them exactly. */
  integral: boolean;
  /** A synthetic source draws held-out examples for "replace one" without limit. */
  synthetic: boolean;
  /** Size of the source's train split before any selection. */
  sourceTrainSize: number;
  train: SplitPlan | undefined;
  test: SplitPlan;
  /** Bytes of auxiliary arrays (basis, centres). */
  auxiliaryBytes: number;
}

const scalings = {
  PIXEL_SCALING_UNIT: PixelScaling.PIXEL_SCALING_UNIT,
  PIXEL_SCALING_STANDARDIZE: PixelScaling.PIXEL_SCALING_STANDARDIZE,
};

function split(n: number, classCounts: number[] | undefined): SplitPlan {
  return { n, exact: true, classCounts, labelsCorrupted: false };
}

function imageSource(
  field: string,
  source: MnistSource | FashionMnistSource,
  sizes: { train: number; test: number },
  counts: { train: number[]; test: number[] },
): { value: MnistSource; plan: SourcePlan } {
  const scaling =
    source.scaling === PixelScaling.PIXEL_SCALING_UNSPECIFIED
      ? PixelScaling.PIXEL_SCALING_UNIT
      : checkEnum(`${field}.scaling`, source.scaling, scalings);
  return {
    value: { scaling: scaling as PixelScaling, flatten: source.flatten },
    plan: {
      inputShape: source.flatten ? [784] : [1, 28, 28],
      numClasses: 10,
      image: true,
      integral: false,
      synthetic: false,
      sourceTrainSize: sizes.train,
      train: split(sizes.train, counts.train),
      test: split(sizes.test, counts.test),
      auxiliaryBytes: 0,
    },
  };
}

function sizeField(field: string, value: number): number {
  return checkInt(field, value, 1, FIELD_LIMITS.maxExamples);
}

function gaussianMixture(s: GaussianMixtureSource): { value: GaussianMixtureSource; plan: SourcePlan } {
  const f = 'spec.gaussianMixture';
  const numClasses = checkInt(`${f}.numClasses`, s.numClasses, 2, FIELD_LIMITS.maxClasses);
  const dimension = checkInt(`${f}.dimension`, s.dimension, 1, FIELD_LIMITS.maxFeatures);
  const trainSize = sizeField(`${f}.trainSize`, s.trainSize);
  const testSize = sizeField(`${f}.testSize`, s.testSize);
  const separation = checkFinite(`${f}.separation`, s.separation, { min: 0 });
  const clusterStd =
    s.clusterStd === 0 ? 1 : checkFinite(`${f}.clusterStd`, s.clusterStd, { min: 0, minExclusive: true });
  return {
    value: { numClasses, dimension, trainSize, testSize, separation, clusterStd },
    plan: {
      inputShape: [dimension],
      numClasses,
      image: false,
      integral: false,
      synthetic: true,
      sourceTrainSize: trainSize,
      train: split(trainSize, balancedCounts(trainSize, numClasses)),
      test: split(testSize, balancedCounts(testSize, numClasses)),
      auxiliaryBytes: numClasses * dimension * 8,
    },
  };
}

function subspace(s: SubspaceSource): { value: SubspaceSource; plan: SourcePlan } {
  const f = 'spec.subspace';
  const ambientDimension = checkInt(`${f}.ambientDimension`, s.ambientDimension, 1, FIELD_LIMITS.maxFeatures);
  const subspaceDimension = checkInt(`${f}.subspaceDimension`, s.subspaceDimension, 1, ambientDimension);
  const noiseSigma = checkFinite(`${f}.noiseSigma`, s.noiseSigma, { min: 0 });
  const trainSize = sizeField(`${f}.trainSize`, s.trainSize);
  const testSize = sizeField(`${f}.testSize`, s.testSize);
  const label =
    s.label === SubspaceLabel.SUBSPACE_LABEL_UNSPECIFIED
      ? SubspaceLabel.SUBSPACE_LABEL_SIGN
      : (checkEnum(`${f}.label`, s.label, {
          SUBSPACE_LABEL_SIGN: SubspaceLabel.SUBSPACE_LABEL_SIGN,
          SUBSPACE_LABEL_LINEAR: SubspaceLabel.SUBSPACE_LABEL_LINEAR,
          SUBSPACE_LABEL_STRIPES: SubspaceLabel.SUBSPACE_LABEL_STRIPES,
        }) as SubspaceLabel);
  let stripeFrequency = s.stripeFrequency;
  if (label === SubspaceLabel.SUBSPACE_LABEL_STRIPES) {
    checkFinite(`${f}.stripeFrequency`, stripeFrequency, { min: 0, minExclusive: true });
  } else if (stripeFrequency !== 0) {
    throw new SpecError(`${f}.stripeFrequency`, 'is only used with SUBSPACE_LABEL_STRIPES; leave it 0');
  } else {
    stripeFrequency = 0;
  }
  if (ambientDimension * subspaceDimension > FIELD_LIMITS.maxFeatures) {
    throw new SpecError(
      `${f}.subspaceDimension`,
      `a ${ambientDimension} x ${subspaceDimension} basis is too large`,
    );
  }
  return {
    value: { ambientDimension, subspaceDimension, noiseSigma, trainSize, testSize, label, stripeFrequency },
    plan: {
      inputShape: [ambientDimension],
      numClasses: 2,
      image: false,
      integral: false,
      synthetic: true,
      sourceTrainSize: trainSize,
      train: split(trainSize, undefined),
      test: split(testSize, undefined),
      auxiliaryBytes: ambientDimension * subspaceDimension * 8 + subspaceDimension * 8,
    },
  };
}

function sparseParity(seed: number, s: SparseParitySource): { value: SparseParitySource; plan: SourcePlan } {
  const f = 'spec.sparseParity';
  const numBits = checkInt(`${f}.numBits`, s.numBits, 1, FIELD_LIMITS.maxParityBits);
  const paritySize = checkInt(`${f}.paritySize`, s.paritySize, 1, numBits);
  let hiddenCoordinates: number[];
  if (s.hiddenCoordinates.length > 0) {
    if (s.hiddenCoordinates.length !== paritySize) {
      throw new SpecError(
        `${f}.hiddenCoordinates`,
        `has ${s.hiddenCoordinates.length} entries; parity_size is ${paritySize}`,
      );
    }
    const seen = new Set<number>();
    s.hiddenCoordinates.forEach((c, i) => {
      checkInt(`${f}.hiddenCoordinates[${i}]`, c, 0, numBits - 1);
      if (seen.has(c)) throw new SpecError(`${f}.hiddenCoordinates[${i}]`, `coordinate ${c} appears twice`);
      seen.add(c);
    });
    hiddenCoordinates = [...s.hiddenCoordinates].sort((a, b) => a - b);
  } else {
    hiddenCoordinates = drawHiddenCoordinates(seed, numBits, paritySize);
  }
  let trainSize = 0;
  if (s.online) {
    if (s.trainSize !== 0) {
      throw new SpecError(
        `${f}.trainSize`,
        'must be 0 with online (the train split is a generator of fresh batches)',
      );
    }
  } else {
    trainSize = sizeField(`${f}.trainSize`, s.trainSize);
  }
  const testSize = sizeField(`${f}.testSize`, s.testSize);
  return {
    value: { numBits, paritySize, hiddenCoordinates, trainSize, testSize, online: s.online },
    plan: {
      inputShape: [numBits],
      numClasses: 2,
      image: false,
      integral: true,
      synthetic: true,
      sourceTrainSize: trainSize,
      train: s.online ? undefined : split(trainSize, undefined),
      test: split(testSize, undefined),
      auxiliaryBytes: 0,
    },
  };
}

function tabular(
  seed: number,
  s: TabularSource,
  limits: DataLimits,
): { value: TabularSource; plan: SourcePlan } {
  const f = 'spec.tabular';
  if (s.table?.$case === 'builtin') {
    if (!BUILTIN_TABLES[s.table.value]) {
      throw new SpecError(
        `${f}.builtin`,
        `unknown table ${JSON.stringify(s.table.value)}; bundled: ${Object.keys(BUILTIN_TABLES).join(', ')}`,
      );
    }
  } else if (s.table?.$case === 'csvText') {
    const bytes = Buffer.byteLength(s.table.value, 'utf8');
    if (bytes > limits.maxCsvBytes) {
      throw new SpecError(
        `${f}.csvText`,
        `${bytes} bytes is over the limit of ${limits.maxCsvBytes} (GENGAP_MAX_CSV_BYTES)`,
      );
    }
    if (bytes === 0) throw new SpecError(`${f}.csvText`, 'is empty');
  } else {
    throw new SpecError(`${f}.table`, 'set builtin or csvText');
  }
  if (s.targetColumn === '') throw new SpecError(`${f}.targetColumn`, 'is required');
  const fieldWidth =
    s.fieldWidth === 0 ? 8 : checkInt(`${f}.fieldWidth`, s.fieldWidth, 1, FIELD_LIMITS.maxFieldWidth);
  const targetBins =
    s.targetBins === 0 ? 2 : checkInt(`${f}.targetBins`, s.targetBins, 2, FIELD_LIMITS.maxTargetBins);
  const testFraction =
    s.testFraction === 0
      ? 0.2
      : checkFinite(`${f}.testFraction`, s.testFraction, {
          min: 0,
          max: 1,
          minExclusive: true,
          maxExclusive: true,
        });
  const seen = new Set<string>();
  s.dropColumns.forEach((name, i) => {
    if (seen.has(name))
      throw new SpecError(`${f}.dropColumns[${i}]`, `${JSON.stringify(name)} is listed twice`);
    seen.add(name);
  });
  const value: TabularSource = {
    table: s.table,
    targetColumn: s.targetColumn,
    fieldWidth,
    targetBins,
    testFraction,
    dropColumns: [...s.dropColumns].sort(),
  };
  const table = parseTable(value);
  const layout = tabularLayout(seed, value, table);
  const counts = (positions: Uint32Array) => {
    const c = new Array<number>(layout.numClasses).fill(0);
    for (const p of positions) c[layout.labels[p] as number] = (c[layout.labels[p] as number] as number) + 1;
    return c;
  };
  return {
    value,
    plan: {
      inputShape: [layout.inputColumns.length * fieldWidth],
      numClasses: layout.numClasses,
      image: false,
      integral: true,
      synthetic: false,
      sourceTrainSize: layout.train.length,
      train: split(layout.train.length, counts(layout.train)),
      test: split(layout.test.length, counts(layout.test)),
      auxiliaryBytes: 0,
    },
  };
}

/** Validates the spec's source and returns its canonical form and plan. */
export function validateSource(
  spec: DatasetSpec,
  limits: DataLimits,
): { source: NonNullable<DatasetSpec['source']>; plan: SourcePlan } {
  const source = spec.source;
  switch (source?.$case) {
    case 'mnist': {
      const r = imageSource(
        'spec.mnist',
        source.value,
        { train: MNIST_TRAIN_SIZE, test: MNIST_TEST_SIZE },
        MNIST_CLASS_COUNTS,
      );
      return { source: { $case: 'mnist', value: r.value }, plan: r.plan };
    }
    case 'fashionMnist': {
      const r = imageSource(
        'spec.fashionMnist',
        source.value,
        { train: FASHION_TRAIN_SIZE, test: FASHION_TEST_SIZE },
        FASHION_CLASS_COUNTS,
      );
      return { source: { $case: 'fashionMnist', value: r.value }, plan: r.plan };
    }
    case 'gaussianMixture': {
      const r = gaussianMixture(source.value);
      return { source: { $case: 'gaussianMixture', value: r.value }, plan: r.plan };
    }
    case 'subspace': {
      const r = subspace(source.value);
      return { source: { $case: 'subspace', value: r.value }, plan: r.plan };
    }
    case 'sparseParity': {
      const r = sparseParity(spec.seed, source.value);
      return { source: { $case: 'sparseParity', value: r.value }, plan: r.plan };
    }
    case 'tabular': {
      const r = tabular(spec.seed, source.value, limits);
      return { source: { $case: 'tabular', value: r.value }, plan: r.plan };
    }
    default:
      throw new SpecError(
        'spec.source',
        'set one of mnist, fashionMnist, gaussianMixture, subspace, sparseParity, tabular',
      );
  }
}
