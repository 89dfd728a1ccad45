// manifest.json: the contract's DatasetManifest in proto3 JSON (spec, shapes, class counts, mean/std,
// file hashes), plus a "storage" section that says which file holds which tensor, so a Python user
// needs nothing but json and numpy. Keys are sorted and there are no timestamps: the same spec
// writes the same manifest bytes on every machine.
import { DatasetManifest } from '@gengap/proto/data/v1/dataset';
import { canonicalJson } from '../validation/canonical.ts';

export const MANIFEST_FILE = 'manifest.json';

export interface StoredTensor {
  file: string;
  dtype: 'float32' | 'float64' | 'int64';
  shape: number[];
  /** sha256 of the tensor's element bytes (what a ReadDataset stream carries), not of the file. */
  sha256: string;
  /**
   * CRC-32 of every CRC_BLOCK_BYTES block of the element bytes, little-endian uint32s in base64: a
   * stream of block-aligned chunks sends their CRCs without computing them (tensor-io BlockCrc32).
   */
  blockCrc32?: string;
}

export const CRC_BLOCK_BYTES = 64 * 1024;

export interface StorageLayout {
  /** Per split, tensors by their stream name: "x", "y" and, after label corruption, "y_clean". */
  splits: { train?: Record<string, StoredTensor>; test: Record<string, StoredTensor> };
  /** Source arrays such as the subspace basis, by name. */
  auxiliary: Record<string, StoredTensor>;
  /** Inputs are integers in [min, max] (then integer dtypes can carry them exactly). */
  inputs: { integral: boolean; min: number; max: number };
  /** Image datasets: [channels, height, width] and a black pixel's value. */
  image?: { shape: number[]; background: number };
  classNames?: string[];
  /** Source facts for analyses (a table's field names, parity's hidden coordinates...). */
  details: Record<string, unknown>;
}

export interface ManifestFile {
  manifest: DatasetManifest;
  storage: StorageLayout;
}

export function encodeManifestFile(file: ManifestFile): string {
  const json = DatasetManifest.toJSON(file.manifest) as Record<string, unknown>;
  return `${canonicalJson({ ...json, storage: file.storage }, 2)}\n`;
}

export function decodeManifestFile(text: string): ManifestFile {
  const json = JSON.parse(text) as Record<string, unknown> & { storage?: StorageLayout };
  if (!json.storage || typeof json.storage !== 'object')
    throw new Error('manifest.json has no storage section');
  const manifest = DatasetManifest.fromJSON(json);
  const storage = json.storage;
  // Manifests written before DatasetManifest had auxiliary_arrays and class_names record both in
  // their storage section only; the contract's fields are read from there.
  if (manifest.auxiliaryArrays.length === 0)
    manifest.auxiliaryArrays = Object.keys(storage.auxiliary ?? {}).sort();
  if (manifest.classNames.length === 0 && storage.classNames) manifest.classNames = [...storage.classNames];
  return { manifest, storage };
}
