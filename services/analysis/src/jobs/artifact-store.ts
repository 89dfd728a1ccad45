// Files an analysis produces, under <root>/<analysis id>/<name>: tensors and derived checkpoints as
// safetensors (read back as one chunked tensor per stored tensor, in their original order), JSON and
// CSV exports, PNG images. Every write is atomic, so a re-run after a crash simply replaces a file
// with identical bytes (analyses are deterministic given their seed).
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelSpec } from '@gengap/proto/common/v1/model';
import { DataType } from '@gengap/proto/common/v1/tensor';
import { InvalidArgumentError, NotFoundError } from '@gengap/service-kit';
import {
  type ChunkSource,
  decodeSafetensors,
  dtypeFromProto,
  dtypeToProto,
  encodeSafetensors,
  type HostTensor,
  hostTensor,
  memorySource,
  TEMP_PREFIX,
  writeFileAtomic,
} from '@gengap/tensor-io';
import type { ArtifactWriter, NamedTensor } from '../analyses/kind.ts';

export const TENSOR_MEDIA_TYPE = 'application/x-gengap-tensor';

const mediaTypes: Record<string, string> = {
  '.safetensors': TENSOR_MEDIA_TYPE,
  '.json': 'application/json',
  '.csv': 'text/csv',
  '.png': 'image/png',
  '.txt': 'text/plain',
};

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/** Turns a free label (a parameter name) into a safe artifact name fragment. */
export function artifactSafe(label: string): string {
  return label.replace(/[^A-Za-z0-9._-]/g, '_') || 'all';
}

function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '' : name.slice(dot);
}

export interface OpenedArtifact {
  mediaType: string;
  sources: ChunkSource[];
}

/** A stored checkpoint: the model it fits and its parameters in the model's order. */
export interface StoredCheckpoint {
  model: ModelSpec;
  parameters: NamedTensor[];
  metadata: Record<string, string>;
}

export class ArtifactStore {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  private dir(analysisId: string): string {
    return join(this.root, analysisId);
  }

  private path(analysisId: string, name: string): string {
    if (!NAME.test(name) || name.includes('..'))
      throw new InvalidArgumentError('artifact', `invalid name ${name}`);
    return join(this.dir(analysisId), name);
  }

  async writeBytes(analysisId: string, name: string, bytes: Uint8Array): Promise<string> {
    if (!(extensionOf(name) in mediaTypes)) throw new RangeError(`artifact ${name}: unknown extension`);
    const path = this.path(analysisId, name);
    await mkdir(this.dir(analysisId), { recursive: true });
    await writeFileAtomic(path, [bytes]);
    return name;
  }

  async writeTensors(
    analysisId: string,
    name: string,
    tensors: { name: string; tensor: HostTensor }[],
    metadata: Record<string, string> = {},
  ): Promise<string> {
    const file = name.endsWith('.safetensors') ? name : `${name}.safetensors`;
    const order = JSON.stringify(tensors.map((t) => t.name));
    const bytes = encodeSafetensors(new Map(tensors.map((t) => [t.name, t.tensor])), {
      ...metadata,
      'gengap.order': order,
    });
    return this.writeBytes(analysisId, file, bytes);
  }

  /** The ArtifactWriter a job's context gets; records every name it writes. */
  writer(analysisId: string, written: string[]): ArtifactWriter {
    const record = (name: string) => {
      if (!written.includes(name)) written.push(name);
      return name;
    };
    return {
      writeTensor: async (name, t) => {
        const dtype = dtypeFromProto(t.dtype);
        if (!dtype) throw new RangeError(`artifact ${name}: unsupported dtype ${t.dtype}`);
        const tensorName = name.replace(/\.safetensors$/, '');
        return record(
          await this.writeTensors(analysisId, name, [
            { name: tensorName, tensor: hostTensor(dtype, t.shape, t.data) },
          ]),
        );
      },
      writeCheckpoint: async (name, { model, parameters, runId, step }) => {
        const tensors = parameters.map((p) => ({
          name: p.name,
          tensor: hostTensor(p.data instanceof Float64Array ? 'float64' : 'float32', p.shape, p.data),
        }));
        return record(
          await this.writeTensors(analysisId, name, tensors, {
            'gengap.model': JSON.stringify(ModelSpec.toJSON(model)),
            'gengap.source_run_id': runId,
            'gengap.source_step': String(step),
          }),
        );
      },
      writeBytes: async (name, _mediaType, bytes) => record(await this.writeBytes(analysisId, name, bytes)),
    };
  }

  async list(analysisId: string): Promise<string[]> {
    try {
      return (await readdir(this.dir(analysisId))).filter((n) => !n.startsWith(TEMP_PREFIX)).sort();
    } catch {
      return [];
    }
  }

  private async readAll(analysisId: string, name: string): Promise<Uint8Array> {
    const path = this.path(analysisId, name);
    try {
      await stat(path);
    } catch {
      throw new NotFoundError('artifact', `${analysisId}/${name}`);
    }
    return new Uint8Array(await readFile(path));
  }

  /** An artifact as chunk sources: one per stored tensor, or one UINT8 tensor holding a file's bytes. */
  async open(analysisId: string, name: string): Promise<OpenedArtifact> {
    const bytes = await this.readAll(analysisId, name);
    const mediaType = mediaTypes[extensionOf(name)] ?? 'application/octet-stream';
    if (mediaType !== TENSOR_MEDIA_TYPE) {
      return {
        mediaType,
        sources: [
          memorySource({ name, dtype: DataType.DATA_TYPE_UINT8, shape: [bytes.byteLength], data: bytes }),
        ],
      };
    }
    const contents = decodeSafetensors(bytes);
    const order = orderOf(contents.metadata, [...contents.tensors.keys()]);
    const sources = order.map((tensorName) => {
      const t = contents.tensors.get(tensorName)!;
      return memorySource({ name: tensorName, dtype: dtypeToProto(t.dtype), shape: t.shape, data: t.data });
    });
    return { mediaType, sources };
  }

  async readCheckpoint(analysisId: string, name: string): Promise<StoredCheckpoint> {
    const contents = decodeSafetensors(await this.readAll(analysisId, name));
    const modelJson = contents.metadata['gengap.model'];
    if (!modelJson) throw new RangeError(`artifact ${name} is not a checkpoint`);
    const parameters = orderOf(contents.metadata, [...contents.tensors.keys()]).map((tensorName) => {
      const t = contents.tensors.get(tensorName)!;
      const copy = t.data.slice();
      const data = t.dtype === 'float64' ? new Float64Array(copy.buffer) : new Float32Array(copy.buffer);
      return { name: tensorName, shape: t.shape, data };
    });
    return { model: ModelSpec.fromJSON(JSON.parse(modelJson)), parameters, metadata: contents.metadata };
  }

  async remove(analysisId: string): Promise<void> {
    await rm(this.dir(analysisId), { recursive: true, force: true });
  }
}

function orderOf(metadata: Record<string, string>, names: string[]): string[] {
  const stored = metadata['gengap.order'];
  if (!stored) return names;
  const order = JSON.parse(stored) as string[];
  return order.filter((n) => names.includes(n));
}
