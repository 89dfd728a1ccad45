export * from './hypothesis-test.ts';
export { ksDistance } from './kolmogorov-smirnov.ts';
