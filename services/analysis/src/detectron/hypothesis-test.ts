// Detectron's hypothesis tests (p-values, false-positive rate, power; Ginsberg et al. 2023) live in
// the shared library @gengap/shift-detection, so that the coordinator, which runs the trials, and this
// service use the same statistics without importing each other's source.
export {
  disagreementTest,
  empiricalPValue,
  entropy,
  entropyTest,
  falsePositiveTolerance,
  leaveOneOutDistances,
  type TestOutcome,
} from '@gengap/shift-detection';
