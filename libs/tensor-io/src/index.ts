export * from './chunks.ts';
