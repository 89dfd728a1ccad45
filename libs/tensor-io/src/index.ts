export * from './atomic-file.ts';
export * from './chunks.ts';
export * from './dtypes.ts';
export * from './npy.ts';
export * from './safetensors.ts';
