export * from './job-store.ts';
