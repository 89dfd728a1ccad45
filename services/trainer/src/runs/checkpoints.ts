// Checkpoints of a run: <runDir>/checkpoints/<step>/{parameters.safetensors, optimizer.safetensors,
// manifest.json}. A checkpoint is written into a temporary folder, every file fsynced, then renamed
// into place, so a crash leaves either the whole checkpoint or none. Resume checkpoints are pruned
// when a newer one lands; permanent ones (keep_epochs, keep_every_epochs, final) stay.
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { decodeSafetensors, encodeSafetensors } from './checkpoint-codec.ts';
import type { NamedArray } from './worker-protocol.ts';

export const CHECKPOINT_FORMAT_VERSION = 1;
export const PARAMETERS_FILE = 'parameters.safetensors';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const MANIFEST_FILE = 'manifest.json';

/** manifest.json: everything besides tensors that a resumed run needs, readable from Python. */
export interface CheckpointManifest {
  formatVersion: number;
  runId: string;
  /** Optimizer steps completed. */
  step: number;
  /** step / steps per epoch. */
  epoch: number;
  /** Completed epochs and the position inside the current one. */
  epochIndex: number;
  stepInEpoch: number;
  /** xoshiro128** state of the "data-order" stream at the start of the current epoch. */
  dataOrderRngState: number[];
  specHash: string;
  permanent: boolean;
  final: boolean;
  precision: 'float32' | 'float64';
  /** sha256 (hex) of each tensor file. */
  files: Record<string, string>;
  /** The run's ModelSpec in proto3 JSON (to rebuild the network elsewhere). */
  model: unknown;
  /** Training-loop state (time-to-fit, stop-rule counters, last evaluation, wall time). */
  loop: unknown;
  createdAt: string;
}

export type NewCheckpoint = Omit<CheckpointManifest, 'files' | 'formatVersion' | 'createdAt'>;

export interface WrittenCheckpoint {
  step: number;
  epoch: number;
  permanent: boolean;
  /** sha256 of parameters.safetensors. */
  sha256Hex: string;
}

export function checkpointsDir(runDir: string): string {
  return join(runDir, 'checkpoints');
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function writeDurably(path: string, bytes: Uint8Array): void {
  const fd = openSync(path, 'w');
  try {
    let offset = 0;
    while (offset < bytes.byteLength) offset += writeSync(fd, bytes, offset, bytes.byteLength - offset);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function fsyncDir(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes a checkpoint atomically. Writing a step that already exists keeps the existing one. */
export function writeCheckpoint(
  runDir: string,
  checkpoint: NewCheckpoint,
  parameters: readonly NamedArray[],
  optimizer: readonly NamedArray[],
): WrittenCheckpoint {
  const dir = checkpointsDir(runDir);
  mkdirSync(dir, { recursive: true });
  const finalPath = join(dir, String(checkpoint.step));
  const tmp = join(dir, `.tmp-${checkpoint.step}-${randomBytes(4).toString('hex')}`);
  mkdirSync(tmp);
  try {
    const metadata = { format: 'gengap-checkpoint', run_id: checkpoint.runId, step: String(checkpoint.step) };
    const paramBytes = encodeSafetensors(parameters, metadata);
    const optimizerBytes = encodeSafetensors(optimizer, metadata);
    writeDurably(join(tmp, PARAMETERS_FILE), paramBytes);
    writeDurably(join(tmp, OPTIMIZER_FILE), optimizerBytes);
    const manifest: CheckpointManifest = {
      formatVersion: CHECKPOINT_FORMAT_VERSION,
      ...checkpoint,
      files: { [PARAMETERS_FILE]: sha256(paramBytes), [OPTIMIZER_FILE]: sha256(optimizerBytes) },
      createdAt: new Date().toISOString(),
    };
    writeDurably(join(tmp, MANIFEST_FILE), Buffer.from(JSON.stringify(manifest, null, 2)));
    fsyncDir(tmp);
    if (existsSync(finalPath)) {
      // The same step again: a replay after a crash, or the final checkpoint landing on the step of
      // the last periodic one. Training is deterministic, so the tensors are the same; only the
      // manifest (permanent, final, loop state) is replaced, atomically.
      const existing = readManifest(finalPath);
      if (existing && existing.files[PARAMETERS_FILE] === manifest.files[PARAMETERS_FILE]) {
        const merged = { ...manifest, permanent: manifest.permanent || existing.permanent };
        writeDurably(join(tmp, 'manifest.merged'), Buffer.from(JSON.stringify(merged, null, 2)));
        renameSync(join(tmp, 'manifest.merged'), join(finalPath, MANIFEST_FILE));
        fsyncDir(finalPath);
        rmSync(tmp, { recursive: true, force: true });
        return infoOf(merged);
      }
      rmSync(finalPath, { recursive: true, force: true });
    }
    renameSync(tmp, finalPath);
    fsyncDir(dir);
    return infoOf(manifest);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

function infoOf(manifest: CheckpointManifest): WrittenCheckpoint {
  return {
    step: manifest.step,
    epoch: manifest.epoch,
    permanent: manifest.permanent,
    sha256Hex: manifest.files[PARAMETERS_FILE] ?? '',
  };
}

function readManifest(path: string): CheckpointManifest | undefined {
  try {
    const manifest = JSON.parse(readFileSync(join(path, MANIFEST_FILE), 'utf8')) as CheckpointManifest;
    return manifest.formatVersion === CHECKPOINT_FORMAT_VERSION ? manifest : undefined;
  } catch {
    return undefined;
  }
}

/** The run's complete checkpoints (those with a readable manifest), by increasing step. */
export function listCheckpoints(runDir: string): CheckpointManifest[] {
  const dir = checkpointsDir(runDir);
  if (!existsSync(dir)) return [];
  const out: CheckpointManifest[] = [];
  for (const name of readdirSync(dir)) {
    if (!/^\d+$/.test(name)) continue;
    const manifest = readManifest(join(dir, name));
    if (manifest) out.push(manifest);
  }
  return out.sort((a, b) => a.step - b.step);
}

export function listCheckpointInfos(runDir: string): WrittenCheckpoint[] {
  return listCheckpoints(runDir).map(infoOf);
}

export interface LoadedCheckpoint {
  manifest: CheckpointManifest;
  parameters: NamedArray[];
  optimizer: NamedArray[];
}

/** Reads a checkpoint and checks its files against the manifest's hashes. */
export function loadCheckpoint(runDir: string, step: number, withOptimizer = true): LoadedCheckpoint {
  const path = join(checkpointsDir(runDir), String(step));
  const manifest = readManifest(path);
  if (!manifest) throw new Error(`checkpoint ${step} has no readable manifest`);
  const read = (file: string): NamedArray[] => {
    const bytes = readFileSync(join(path, file));
    if (sha256(bytes) !== manifest.files[file]) throw new Error(`checkpoint ${step}: ${file} is damaged`);
    return decodeSafetensors(bytes);
  };
  return {
    manifest,
    parameters: read(PARAMETERS_FILE),
    optimizer: withOptimizer ? read(OPTIMIZER_FILE) : [],
  };
}

/**
 * The newest checkpoint whose files check out, skipping damaged ones; undefined when none. Also
 * removes temporary folders of writes a crash interrupted.
 */
export function latestCheckpoint(runDir: string): LoadedCheckpoint | undefined {
  const dir = checkpointsDir(runDir);
  if (!existsSync(dir)) return undefined;
  for (const name of readdirSync(dir)) {
    if (name.startsWith('.tmp-')) rmSync(join(dir, name), { recursive: true, force: true });
  }
  const manifests = listCheckpoints(runDir).reverse();
  for (const manifest of manifests) {
    try {
      return loadCheckpoint(runDir, manifest.step);
    } catch {
      // Damaged (a disk problem, not a crash: writes are atomic); fall back to an older one.
    }
  }
  return undefined;
}

/** Deletes resume (non-permanent) checkpoints older than `newestStep`. */
export function pruneCheckpoints(runDir: string, newestStep: number): void {
  for (const manifest of listCheckpoints(runDir)) {
    if (manifest.step < newestStep && !manifest.permanent) {
      rmSync(join(checkpointsDir(runDir), String(manifest.step)), { recursive: true, force: true });
    }
  }
}
