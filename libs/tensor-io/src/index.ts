export * from './atomic-file.ts';
export * from './chunk-wire.ts';
export * from './chunks.ts';
export * from './crc32-combine.ts';
export * from './dtypes.ts';
export * from './image-grid.ts';
export * from './npy.ts';
export * from './safetensors.ts';
