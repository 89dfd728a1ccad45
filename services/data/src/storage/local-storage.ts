// Datasets on the local file system: <root>/<datasetId>/{manifest.json, train_x.npy, ...}. Staging
// directories (.staging-*) sit in the same parent so that publishing is one rename(2), which is
// atomic; deletion renames the dataset away (.deleting-*) before removing it.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type NpyReader, openNpyFile, syncDirectory } from '@gengap/tensor-io';
import type { DatasetStorage } from './dataset-storage.ts';
import { decodeManifestFile, MANIFEST_FILE, type ManifestFile } from './manifest-file.ts';

const STAGING = '.staging-';
const DELETING = '.deleting-';
const ID = /^[0-9a-f]{32}$/;

function checkId(datasetId: string): string {
  // Ids are hashes; anything else must never become a path.
  if (!ID.test(datasetId)) throw new RangeError(`invalid dataset id ${JSON.stringify(datasetId)}`);
  return datasetId;
}

function checkFile(file: string): string {
  if (!/^[a-z0-9_]+\.npy$/.test(file)) throw new RangeError(`invalid dataset file ${JSON.stringify(file)}`);
  return file;
}

export class LocalDatasetStorage implements DatasetStorage {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  private dirOf(datasetId: string): string {
    return join(this.root, checkId(datasetId));
  }

  uri(datasetId: string): string {
    return pathToFileURL(this.dirOf(datasetId)).href;
  }

  async stage(datasetId: string): Promise<string> {
    await mkdir(this.root, { recursive: true });
    const dir = join(this.root, `${STAGING}${checkId(datasetId)}-${randomBytes(6).toString('hex')}`);
    await mkdir(dir);
    return dir;
  }

  async commit(datasetId: string, stagingDir: string): Promise<void> {
    const target = this.dirOf(datasetId);
    try {
      await rename(stagingDir, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      // Already published (identical bytes: same spec); keep the existing copy.
      await this.discard(stagingDir);
      return;
    }
    await syncDirectory(this.root);
  }

  async discard(stagingDir: string): Promise<void> {
    await rm(stagingDir, { recursive: true, force: true });
  }

  async readManifest(datasetId: string): Promise<ManifestFile | undefined> {
    let text: string;
    try {
      text = await readFile(join(this.dirOf(datasetId), MANIFEST_FILE), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    return decodeManifestFile(text);
  }

  openTensor(datasetId: string, file: string): Promise<NpyReader> {
    return openNpyFile(join(this.dirOf(datasetId), checkFile(file)));
  }

  async delete(datasetId: string): Promise<boolean> {
    const aside = join(this.root, `${DELETING}${checkId(datasetId)}-${randomBytes(6).toString('hex')}`);
    try {
      await rename(this.dirOf(datasetId), aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    await rm(aside, { recursive: true, force: true });
    return true;
  }

  async sweep(): Promise<number> {
    let entries: string[];
    try {
      entries = await readdir(this.root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
    const stray = entries.filter((e) => e.startsWith(STAGING) || e.startsWith(DELETING));
    await Promise.all(stray.map((e) => rm(join(this.root, e), { recursive: true, force: true })));
    return stray.length;
  }
}
