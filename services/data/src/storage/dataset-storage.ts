// Where datasets live. Generation writes into a private staging area and `commit` publishes the whole
// dataset at once, so no reader ever sees half of one. The local file system is the implementation
// here; an S3-compatible store would stage locally and upload on commit, and serve `openTensor` with
// ranged GETs.
import type { NpyReader } from '@gengap/tensor-io';
import type { ManifestFile } from './manifest-file.ts';

export interface DatasetStorage {
  /** Where dataset `id` lives, for users on the same machine (file:// URI, s3:// ...). */
  uri(datasetId: string): string;
  /** A fresh, empty local directory to generate dataset `id` into; invisible to readers. */
  stage(datasetId: string): Promise<string>;
  /**
   * Publishes a staged directory as dataset `id`, atomically. When the dataset already exists (the
   * same spec generated before a crash), the existing copy is kept and the staging discarded.
   */
  commit(datasetId: string, stagingDir: string): Promise<void>;
  /** Removes a staging directory (after a failure or cancellation). */
  discard(stagingDir: string): Promise<void>;
  /** The dataset's manifest, or undefined when it is not stored. */
  readManifest(datasetId: string): Promise<ManifestFile | undefined>;
  /** Opens one of the dataset's .npy files for ranged reads. */
  openTensor(datasetId: string, file: string): Promise<NpyReader>;
  /** Deletes a stored dataset; false when there was none. Never leaves a partial dataset visible. */
  delete(datasetId: string): Promise<boolean>;
  /** Removes staging and half-deleted directories left by a crash; returns how many. */
  sweep(): Promise<number>;
}
