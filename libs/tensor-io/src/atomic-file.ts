// Crash-safe file replacement: write a temporary file in the same directory, fsync it, rename it over
// the target, fsync the directory. A reader sees the old file or the new one, never half of one.
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Prefix of temporary files; a sweeper may delete files with it that no process is writing. */
export const TEMP_PREFIX = '.tmp-';

/** fsyncs a directory so that a rename or a new entry in it survives a power loss. */
export async function syncDirectory(path: string): Promise<void> {
  const dir = await open(path, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Writes `parts` one after another to `path`, atomically. */
export async function writeFileAtomic(path: string, parts: readonly Uint8Array[]): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `${TEMP_PREFIX}${basename(path)}-${randomBytes(6).toString('hex')}`);
  const file = await open(temp, 'wx');
  try {
    let position = 0;
    for (const part of parts) {
      let done = 0;
      while (done < part.byteLength) {
        const { bytesWritten } = await file.write(part, done, part.byteLength - done, position);
        done += bytesWritten;
        position += bytesWritten;
      }
    }
    await file.sync();
    await file.close();
    await rename(temp, path);
    await syncDirectory(dir);
  } catch (err) {
    await file.close().catch(() => {});
    await rm(temp, { force: true });
    throw err;
  }
}
