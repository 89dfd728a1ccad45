// The rule table: one entry per ONNX operator the engine emits. Adding an operator means adding an entry
// (infer + VJP + JVP, or `nondifferentiable`) in one of these files and a test case in
// test/rules/cases.ts; the rule tests enumerate this table and fail for an entry without a case.
import type { OpRule } from '../rule.ts';
import { controlFlowRules } from './control-flow.ts';
import { convRules } from './conv.ts';
import { elementwiseRules } from './elementwise.ts';
import { linalgRules } from './linalg.ts';
import { nondifferentiableRules } from './nondifferentiable.ts';
import { poolRules } from './pool.ts';
import { reduceRules } from './reduce.ts';
import { shapeRules } from './shape.ts';

function buildTable(groups: OpRule[][]): ReadonlyMap<string, OpRule> {
  const table = new Map<string, OpRule>();
  for (const rule of groups.flat()) {
    if (table.has(rule.op)) throw new Error(`two rules for ${rule.op}`);
    table.set(rule.op, rule);
  }
  return table;
}

export const ruleTable: ReadonlyMap<string, OpRule> = buildTable([
  elementwiseRules,
  linalgRules,
  reduceRules,
  shapeRules,
  convRules,
  poolRules,
  nondifferentiableRules,
  controlFlowRules,
]);

export function ruleFor(op: string): OpRule {
  const rule = ruleTable.get(op);
  if (rule === undefined) throw new Error(`no rule for operator ${op}; add one to the rule table`);
  return rule;
}
