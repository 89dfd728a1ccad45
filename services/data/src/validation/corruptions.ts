// Checks and canonical form of each corruption, applied to the plan of the splits in order, so that a
// spec asking for more examples than a split will have (a subsample of 70,000 MNIST test images, a
// class-balanced subset larger than the smallest class...) is refused before anything is generated.
import { type Corruption, ShiftKind, SplitSelection } from '@gengap/proto/data/v1/dataset';
import { splitsOf } from '../corruptions/context.ts';
import type { SplitName } from '../datasets/types.ts';
import { checkEnum, checkFinite, checkInt } from './checks.ts';
import type { SourcePlan, SplitPlan } from './sources.ts';
import { SpecError } from './spec-error.ts';

const selections = {
  SPLIT_SELECTION_TRAIN: SplitSelection.SPLIT_SELECTION_TRAIN,
  SPLIT_SELECTION_TEST: SplitSelection.SPLIT_SELECTION_TEST,
  SPLIT_SELECTION_BOTH: SplitSelection.SPLIT_SELECTION_BOTH,
};

/** Corruption kinds that may apply to an online train split (a generator). */
const ONLINE_KINDS = new Set(['labelNoise']);
/** Corruption kinds that change inputs or labels (a "replace one" neighbour must come before them). */
const CHANGES_EXAMPLES = new Set([
  'labelNoise',
  'shufflePixels',
  'randomPixels',
  'gaussianInputs',
  'randomInputs',
  'inputNoise',
  'covariateShift',
]);

interface ChainState {
  plan: SourcePlan;
  /** Index of the first corruption that changed training examples, if any. */
  trainChangedBy: number | undefined;
}

function resolveSplits(
  field: string,
  selection: SplitSelection,
  fallback: SplitSelection,
  kind: string,
  state: ChainState,
): SplitSelection {
  const value =
    selection === SplitSelection.SPLIT_SELECTION_UNSPECIFIED
      ? fallback
      : (checkEnum(`${field}.splits`, selection, selections) as SplitSelection);
  if (!state.plan.train && splitsOf(value).includes('train') && !ONLINE_KINDS.has(kind)) {
    throw new SpecError(
      `${field}.splits`,
      'the train split of an online dataset is a generator; only labelNoise applies to it (select SPLIT_SELECTION_TEST)',
    );
  }
  return value;
}

function plansOf(state: ChainState, selection: SplitSelection): { name: SplitName; plan: SplitPlan }[] {
  return splitsOf(selection)
    .map((name) => ({ name, plan: name === 'train' ? state.plan.train : state.plan.test }))
    .filter((s): s is { name: SplitName; plan: SplitPlan } => s.plan !== undefined);
}

function checkFits(field: string, size: number, name: SplitName, plan: SplitPlan): void {
  if (plan.exact && size > plan.n) {
    throw new SpecError(
      field,
      `${size} is more than the ${plan.n} examples the ${name} split has at this point`,
    );
  }
  if (!plan.exact && size > plan.n) {
    throw new SpecError(
      field,
      `${size} is more than the at most ${plan.n} examples the ${name} split has at this point`,
    );
  }
}

/** Validates corruption `index`, updates the plan, and returns its canonical form. */
function validateOne(corruption: Corruption, index: number, state: ChainState): Corruption {
  const base = `spec.corruptions[${index}]`;
  const kind = corruption.kind;
  if (!kind) {
    throw new SpecError(
      base,
      'set one of labelNoise, shufflePixels, randomPixels, gaussianInputs, randomInputs, inputNoise, subsample, classBalanced, replaceOne, covariateShift',
    );
  }
  const field = `${base}.${kind.$case}`;
  const { plan } = state;
  const touchesTrain = (splits: SplitSelection) => splitsOf(splits).includes('train');
  const changed = (splits: SplitSelection) => {
    if (CHANGES_EXAMPLES.has(kind.$case) && touchesTrain(splits)) state.trainChangedBy ??= index;
  };
  switch (kind.$case) {
    case 'labelNoise': {
      const v = kind.value;
      const fraction = checkFinite(`${field}.fraction`, v.fraction, { min: 0, max: 1 });
      const splits = resolveSplits(field, v.splits, SplitSelection.SPLIT_SELECTION_TRAIN, kind.$case, state);
      if (v.exactAndAlwaysWrong && !plan.train && touchesTrain(splits)) {
        throw new SpecError(
          `${field}.exactAndAlwaysWrong`,
          'needs a finite split; the online train split is a generator',
        );
      }
      for (const s of plansOf(state, splits)) {
        s.plan.labelsCorrupted = true;
        if (fraction > 0) s.plan.classCounts = undefined;
      }
      changed(splits);
      return {
        kind: {
          $case: 'labelNoise',
          value: { fraction, splits, exactAndAlwaysWrong: v.exactAndAlwaysWrong },
        },
      };
    }
    case 'shufflePixels':
    case 'randomPixels':
    case 'gaussianInputs': {
      const splits = resolveSplits(
        field,
        kind.value.splits,
        SplitSelection.SPLIT_SELECTION_TRAIN,
        kind.$case,
        state,
      );
      if (kind.$case === 'gaussianInputs') plan.integral = false;
      changed(splits);
      return { kind: { $case: kind.$case, value: { splits } } } as Corruption;
    }
    case 'randomInputs': {
      const fraction = checkFinite(`${field}.fraction`, kind.value.fraction, { min: 0, max: 1 });
      const splits = resolveSplits(
        field,
        kind.value.splits,
        SplitSelection.SPLIT_SELECTION_TRAIN,
        kind.$case,
        state,
      );
      if (fraction > 0) plan.integral = false;
      changed(splits);
      return { kind: { $case: 'randomInputs', value: { fraction, splits } } };
    }
    case 'inputNoise': {
      const sigma = checkFinite(`${field}.sigma`, kind.value.sigma, { min: 0 });
      const splits = resolveSplits(
        field,
        kind.value.splits,
        SplitSelection.SPLIT_SELECTION_TRAIN,
        kind.$case,
        state,
      );
      if (sigma > 0) plan.integral = false;
      changed(splits);
      return { kind: { $case: 'inputNoise', value: { sigma, splits } } };
    }
    case 'subsample': {
      const size = checkInt(`${field}.size`, kind.value.size, 1, 2 ** 32 - 1);
      const splits = resolveSplits(
        field,
        kind.value.splits,
        SplitSelection.SPLIT_SELECTION_TRAIN,
        kind.$case,
        state,
      );
      for (const s of plansOf(state, splits)) {
        checkFits(`${field}.size`, size, s.name, s.plan);
        s.plan.n = size;
        s.plan.classCounts = undefined;
      }
      return { kind: { $case: 'subsample', value: { size, splits } } };
    }
    case 'classBalanced': {
      const perClass = checkInt(`${field}.perClass`, kind.value.perClass, 1, 2 ** 32 - 1);
      const splits = resolveSplits(
        field,
        kind.value.splits,
        SplitSelection.SPLIT_SELECTION_TRAIN,
        kind.$case,
        state,
      );
      for (const s of plansOf(state, splits)) {
        checkFits(`${field}.perClass`, perClass * plan.numClasses, s.name, s.plan);
        const counts = s.plan.classCounts;
        if (counts) {
          const smallest = counts.reduce((m, c, i) => (c < (counts[m] as number) ? i : m), 0);
          if ((counts[smallest] as number) < perClass) {
            throw new SpecError(
              `${field}.perClass`,
              `class ${smallest} has only ${counts[smallest]} examples in the ${s.name} split at this point`,
            );
          }
        }
        const exact = s.plan.exact && counts !== undefined;
        s.plan.n = perClass * plan.numClasses;
        s.plan.exact = exact;
        s.plan.classCounts = exact ? new Array(plan.numClasses).fill(perClass) : undefined;
      }
      return { kind: { $case: 'classBalanced', value: { perClass, splits } } };
    }
    case 'replaceOne': {
      const train = plan.train;
      if (!train) throw new SpecError(field, 'needs a stored train split; this one is an online generator');
      if (state.trainChangedBy !== undefined) {
        throw new SpecError(
          field,
          `must come before corruptions that change training inputs or labels (spec.corruptions[${state.trainChangedBy}]), so that both neighbours are corrupted alike`,
        );
      }
      const idx = checkInt(`${field}.index`, kind.value.index, 0, Math.max(0, train.n - 1));
      if (train.exact && idx >= train.n)
        throw new SpecError(`${field}.index`, `the train split has ${train.n} examples`);
      const replacement = checkInt(`${field}.replacement`, kind.value.replacement, 0, 2 ** 32 - 1);
      if (!plan.synthetic) {
        const pool = plan.sourceTrainSize - train.n;
        if (train.exact && pool <= 0) {
          throw new SpecError(
            field,
            'no held-out training examples to draw from: subsample or balance the train split first (real data has a finite pool)',
          );
        }
        if (train.exact && replacement >= pool) {
          throw new SpecError(`${field}.replacement`, `must be below the ${pool} held-out training examples`);
        }
      }
      train.classCounts = undefined;
      return { kind: { $case: 'replaceOne', value: { index: idx, replacement } } };
    }
    case 'covariateShift': {
      const v = kind.value;
      const shift = checkEnum(`${field}.kind`, v.kind, {
        SHIFT_KIND_NOISE: ShiftKind.SHIFT_KIND_NOISE,
        SHIFT_KIND_ROTATION: ShiftKind.SHIFT_KIND_ROTATION,
        SHIFT_KIND_CLASS_SKEW: ShiftKind.SHIFT_KIND_CLASS_SKEW,
      }) as ShiftKind;
      const splits = resolveSplits(field, v.splits, SplitSelection.SPLIT_SELECTION_TEST, kind.$case, state);
      let classes: number[] = [];
      let severity: number;
      if (shift === ShiftKind.SHIFT_KIND_NOISE) {
        severity = checkFinite(`${field}.severity`, v.severity, { min: 0 });
        if (severity > 0) plan.integral = false;
      } else if (shift === ShiftKind.SHIFT_KIND_ROTATION) {
        severity = checkFinite(`${field}.severity`, v.severity, { min: -360, max: 360 });
        if (!plan.image)
          throw new SpecError(`${field}.kind`, 'rotation needs an image dataset (mnist or fashionMnist)');
        if (severity !== 0) plan.integral = false;
      } else {
        severity = checkFinite(`${field}.severity`, v.severity, { min: 0, max: 1 });
        const seen = new Set<number>();
        v.classes.forEach((c, i) => {
          checkInt(`${field}.classes[${i}]`, c, 0, plan.numClasses - 1);
          if (seen.has(c)) throw new SpecError(`${field}.classes[${i}]`, `class ${c} is listed twice`);
          seen.add(c);
        });
        classes = v.classes.length > 0 ? [...v.classes].sort((a, b) => a - b) : [];
        if (classes.length === 0) {
          classes = Array.from({ length: Math.max(1, Math.floor(plan.numClasses / 2)) }, (_, c) => c);
        }
        if (severity > 0) {
          for (const s of plansOf(state, splits)) {
            s.plan.exact = false;
            s.plan.classCounts = undefined;
          }
        }
      }
      if (shift !== ShiftKind.SHIFT_KIND_CLASS_SKEW && v.classes.length > 0) {
        throw new SpecError(`${field}.classes`, 'is only used with SHIFT_KIND_CLASS_SKEW');
      }
      changed(splits);
      return { kind: { $case: 'covariateShift', value: { kind: shift, severity, classes, splits } } };
    }
    default: {
      const never: never = kind;
      throw new SpecError(base, `unknown corruption ${JSON.stringify(never)}`);
    }
  }
}

/** Validates every corruption in order against the source's plan (which it updates). */
export function validateCorruptions(corruptions: Corruption[], plan: SourcePlan): Corruption[] {
  const state: ChainState = { plan, trainChangedBy: undefined };
  return corruptions.map((c, i) => validateOne(c, i, state));
}
