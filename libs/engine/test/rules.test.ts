// The rule table, entry by entry: every differentiable operator's VJP, JVP and JVP-of-VJP against float64
// central finite differences (relative error < 1e-6 at smooth points), every operator's shape inference
// against onnxruntime, and the table itself against the case list so that a new rule without a test fails.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ruleTable } from '../src/autodiff/rules/index.ts';
import { coveredElsewhere, ruleCases } from './rules/cases.ts';
import { checkCase } from './support/rule-check.ts';

const TOLERANCE = 1e-6;

describe('rule table', () => {
  it('has a test case for every operator', () => {
    const tested = new Set(ruleCases.map((c) => c.op));
    const missing = [...ruleTable.keys()].filter((op) => !tested.has(op) && !(op in coveredElsewhere));
    assert.deepEqual(missing, [], `operators without a rule test case: ${missing.join(', ')}`);
  });

  it('checks the VJP of every differentiable operator on at least one case', () => {
    const withVjp = new Set(ruleCases.filter((c) => c.jvpOnly === undefined).map((c) => c.op));
    const missing = [...ruleTable.values()]
      .filter((r) => r.vjp !== undefined && !withVjp.has(r.op))
      .map((r) => r.op);
    assert.deepEqual(missing, []);
  });

  it('declares every operator either differentiable (VJP and JVP) or not', () => {
    for (const rule of ruleTable.values()) {
      const differentiable = rule.vjp !== undefined && rule.jvp !== undefined;
      const declaredOtherwise = rule.nondifferentiable === true || rule.loweringOnly === true;
      assert.ok(
        differentiable !== declaredOtherwise,
        `${rule.op}: needs both VJP and JVP rules, or a nondifferentiable/loweringOnly flag`,
      );
    }
  });
});

describe('derivative rules against float64 finite differences', () => {
  ruleCases.forEach((c, index) => {
    it(`${c.op}: ${c.name}`, async () => {
      const report = await checkCase(c, 1000 + index);
      assert.deepEqual(report.shapeErrors, []);
      const rule = ruleTable.get(c.op)!;
      if (rule.nondifferentiable || rule.loweringOnly) return;
      assert.ok(report.jvp !== undefined, 'differentiable case produced no derivative check');
      assert.ok(report.jvp < TOLERANCE, `JVP relative error ${report.jvp}`);
      if (c.jvpOnly !== undefined) return;
      assert.ok(report.vjp! < TOLERANCE, `VJP relative error ${report.vjp}`);
      assert.ok(report.secondOrder! < TOLERANCE, `JVP-of-VJP relative error ${report.secondOrder}`);
    });
  });
});
