/**
 * Compile-time tests of the public types, checked by `npx tsc --noEmit -p .` (tsconfig
 * includes test/). Every `@ts-expect-error` line must fail to compile (tsc reports an unused
 * directive otherwise); the lines without one must compile. Nothing here runs.
 */
import { expectTypeOf } from 'expect-type';
import type { BaseRecaller } from '../../src/models/base.js';
import { GRU4Rec, type GRU4RecConfig, type GRU4RecOptions } from '../../src/models/gru4rec.js';
import { MIND, type MINDConfig } from '../../src/models/mind.js';
import { createModel, registerModel, type ModelName } from '../../src/models/registry.js';
import { ModelBaseConfigSchema } from '../../src/models/config.js';
import { metricKey, type MetricKey, type MetricReport } from '../../src/metrics/evaluate.js';
import { Trainer } from '../../src/train/trainer.js';

export function modelNamesAndConfigs(): void {
  expectTypeOf(createModel('gru4rec', { itemCount: 10, hiddenDim: 8 })).toEqualTypeOf<BaseRecaller>();
  createModel('comirec-sa', { itemCount: 10, numInterests: 2, attentionDim: 8 });
  createModel('mind', { itemCount: 10, logitInit: 'normal', dynamicInterests: true });
  // @ts-expect-error a typo'd model name
  createModel('gru4rc', { itemCount: 10 });
  // @ts-expect-error a typo'd config key
  createModel('gru4rec', { itemCount: 10, hiddenDimm: 8 });
  // @ts-expect-error a key of another model (numInterests is not a GRU4Rec option)
  createModel('gru4rec', { itemCount: 10, numInterests: 4 });
  // @ts-expect-error itemCount is required
  createModel('youtubednn', { embeddingDim: 8 });
  // @ts-expect-error a value outside the option's type
  createModel('gru4rec', { itemCount: 10, recurrence: 'cudnn' });
  // @ts-expect-error the constructor checks keys too
  new GRU4Rec({ itemCount: 10, hiddenDimm: 8 });
  expectTypeOf<'gru4rec'>().toExtend<ModelName>();
  expectTypeOf<'gru4rc'>().not.toExtend<ModelName>();
}

export function configsAreTypedPerModel(): void {
  // getConfig() returns each model's own resolved config: no casts at call sites.
  expectTypeOf(new GRU4Rec({ itemCount: 10 }).getConfig()).toEqualTypeOf<GRU4RecConfig>();
  expectTypeOf(new MIND({ itemCount: 10 }).getConfig()).toEqualTypeOf<MINDConfig>();
  expectTypeOf<GRU4RecConfig['hiddenDim']>().toEqualTypeOf<number>(); // resolved, not optional
  expectTypeOf<GRU4RecOptions['hiddenDim']>().toEqualTypeOf<number | undefined>();
  expectTypeOf<GRU4RecConfig['recurrence']>().toEqualTypeOf<'fused' | 'ops'>();
  expectTypeOf<MINDConfig['inferenceSeed']>().toEqualTypeOf<number>();
  expectTypeOf<Parameters<BaseRecaller['getConfig']>>().toEqualTypeOf<[]>();
  expectTypeOf<ReturnType<BaseRecaller['getConfig']>['itemCount']>().toEqualTypeOf<number>();
}

export function customModelsRegister(): void {
  registerModel('typed-custom', {
    description: 'x',
    configSchema: ModelBaseConfigSchema,
    create: (config) => {
      // create receives the parsed config: defaults filled in.
      expectTypeOf(config.embeddingDim).toEqualTypeOf<number>();
      return new GRU4Rec(config);
    },
  });
  registerModel('typed-custom-2', {
    description: 'x',
    configSchema: ModelBaseConfigSchema,
    // @ts-expect-error create must return a model
    create: () => 42,
  });
}

export function metricReportsAreTyped(report: MetricReport): void {
  expectTypeOf(report['recall@50']).toEqualTypeOf<number>();
  expectTypeOf(report['ndcgComiRec@20']).toEqualTypeOf<number>();
  expectTypeOf(report[metricKey('hitRate', 10)]).toEqualTypeOf<number>();
  expectTypeOf(report.users).toEqualTypeOf<number | undefined>();
  // @ts-expect-error a typo'd metric name
  void report['recal@50'];
  // @ts-expect-error a cutoff must be a number
  void report['recall@top'];
  expectTypeOf<'mrr@5'>().toExtend<MetricKey>();
  expectTypeOf<'map@5'>().not.toExtend<MetricKey>();
  const model = createModel('gru4rec', { itemCount: 10 });
  new Trainer(model, { monitor: 'ndcg@50' });
  // @ts-expect-error the Trainer monitors a metric key
  new Trainer(model, { monitor: 'recal@50' });
}
