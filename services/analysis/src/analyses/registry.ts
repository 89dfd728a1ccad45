// All analysis kinds this service runs: part 1's and part 2's lists merged, one entry per oneof case.
// A spec naming a kind in neither list is refused with UNIMPLEMENTED ("... is not implemented yet"),
// which the coordinator records as such.
import type { AnalysisKind, KindName } from './kind.ts';
import { part1Kinds } from './registry-part1.ts';
import { part2Kinds } from './registry-part2.ts';

/** The proto field name of a kind ("hessianEigen" -> "hessian_eigen"), as clients know it. */
export function protoFieldName(kind: string): string {
  return kind.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

export class KindRegistry {
  private readonly kinds = new Map<KindName, AnalysisKind>();

  constructor(kinds: readonly AnalysisKind[]) {
    for (const kind of kinds) {
      if (this.kinds.has(kind.name)) throw new Error(`analysis kind ${kind.name} is registered twice`);
      this.kinds.set(kind.name, kind);
    }
  }

  get(name: KindName): AnalysisKind | undefined {
    return this.kinds.get(name);
  }

  get names(): KindName[] {
    return [...this.kinds.keys()];
  }
}

export function defaultRegistry(): KindRegistry {
  return new KindRegistry([...part1Kinds, ...part2Kinds]);
}
