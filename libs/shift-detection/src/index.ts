export * from './hypothesis-test.ts';
export { ksDistance } from './kolmogorov-smirnov.ts';
export { type QuerySelection, querySelection } from './query-selection.ts';
