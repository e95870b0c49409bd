/**
 * `--preset gru4rec-official-<dataset>`: the tuned GRU4Rec hyperparameters the official
 * repositories publish (hidasib/GRU4Rec and hidasib/GRU4Rec_PyTorch_Official, `paramfiles/
 * <dataset>_*_shared_best.py`; both repositories hold the same values), mapped onto seqrec's
 * session-parallel trainer:
 *
 * | official                           | seqrec                                                       |
 * |------------------------------------|--------------------------------------------------------------|
 * | layers [H], constrained_embedding  | GRU4Rec({ embeddingDim: H, hiddenDim: H }) (one shared table) |
 * | (the output bias By)               | outputBias: true                                             |
 * | dropout_p_embed / dropout_p_hidden | dropout / hiddenDropout                                      |
 * | loss bpr-max, bpreg, final_act elu-X (Theano) = elu_param X (PyTorch) | 'bpr-max' { bpreg, elu: X }  |
 * | loss cross-entropy, logq           | 'in-batch' { logQ: logq, logQForm: 'gru4rec' }              |
 * | n_sample, sample_alpha             | in-batch + n_sample shared popularity^sample_alpha draws     |
 * | adagrad + momentum, learning_rate  | optimizer 'adagrad' (the official IndexedAdagradM rule)      |
 * | batch_size, n_epochs               | batchSize, epochs                                            |
 *
 * Accidental hits are kept (removeAccidentalHits: false): the official code masks only the
 * row's own column. What still differs from the official run: weight initialisation
 * (official: U(±√(6 / (fan_in + fan_out))) everywhere, zero GRU biases), the GRU layout of the
 * Theano version (reset-before; seqrec and the PyTorch port are reset-after), the loss scale
 * (official: sum over rows / batch size; seqrec: mean over the rows present, which differs
 * only in the last, shrinking batches), and the pre-generated sample cache.
 */
import { createLoss, type LossFunction } from '../losses/index.js';
import type { GRU4RecOptions } from '../models/gru4rec.js';

export interface Gru4RecOfficialParams {
  /** The paramfile the values come from. */
  paramfile: string;
  loss: 'bpr-max' | 'cross-entropy';
  /** layers = [hidden] (every published file has one layer). */
  hidden: number;
  batchSize: number;
  dropoutEmbed: number;
  dropoutHidden: number;
  learningRate: number;
  momentum: number;
  nSample: number;
  sampleAlpha: number;
  bpreg: number;
  /** ELU α on the scores (bpr-max); 0 = none (cross-entropy's softmax). */
  elu: number;
  logq: number;
  epochs: number;
}

const p = (v: Gru4RecOfficialParams): Readonly<Gru4RecOfficialParams> => Object.freeze(v);

export const GRU4REC_OFFICIAL_PRESETS = Object.freeze({
  'gru4rec-official-coveo': p({
    paramfile: 'coveo_bprmax_shared_best.py',
    loss: 'bpr-max',
    hidden: 512,
    batchSize: 144,
    dropoutEmbed: 0.35,
    dropoutHidden: 0,
    learningRate: 0.05,
    momentum: 0.4,
    nSample: 2048,
    sampleAlpha: 0.2,
    bpreg: 1.85,
    elu: 1,
    logq: 0,
    epochs: 10,
  }),
  'gru4rec-official-diginetica': p({
    paramfile: 'diginetica_bprmax_shared_best.py',
    loss: 'bpr-max',
    hidden: 512,
    batchSize: 128,
    dropoutEmbed: 0.5,
    dropoutHidden: 0.3,
    learningRate: 0.05,
    momentum: 0.15,
    nSample: 2048,
    sampleAlpha: 0.3,
    bpreg: 0.9,
    elu: 1,
    logq: 0,
    epochs: 10,
  }),
  'gru4rec-official-retailrocket': p({
    paramfile: 'retailrocket_bprmax_shared_best.py',
    loss: 'bpr-max',
    hidden: 224,
    batchSize: 80,
    dropoutEmbed: 0.5,
    dropoutHidden: 0.05,
    learningRate: 0.05,
    momentum: 0.4,
    nSample: 2048,
    sampleAlpha: 0.4,
    bpreg: 1.95,
    elu: 0.5,
    logq: 0,
    epochs: 10,
  }),
  'gru4rec-official-rees46': p({
    paramfile: 'rees46_xe_shared_best.py',
    loss: 'cross-entropy',
    hidden: 512,
    batchSize: 240,
    dropoutEmbed: 0.45,
    dropoutHidden: 0,
    learningRate: 0.065,
    momentum: 0,
    nSample: 2048,
    sampleAlpha: 0.5,
    bpreg: 0,
    elu: 0,
    logq: 1,
    epochs: 10,
  }),
  'gru4rec-official-rsc15': p({
    paramfile: 'rsc15_xe_shared_100_best.py',
    loss: 'cross-entropy',
    hidden: 100,
    batchSize: 32,
    dropoutEmbed: 0,
    dropoutHidden: 0.4,
    learningRate: 0.2,
    momentum: 0.2,
    nSample: 2048,
    sampleAlpha: 0.5,
    bpreg: 0,
    elu: 0,
    logq: 1,
    epochs: 10,
  }),
  'gru4rec-official-yoochoose': p({
    paramfile: 'yoochoose_xe_shared_best.py',
    loss: 'cross-entropy',
    hidden: 480,
    batchSize: 48,
    dropoutEmbed: 0,
    dropoutHidden: 0.2,
    learningRate: 0.07,
    momentum: 0,
    nSample: 2048,
    sampleAlpha: 0.2,
    bpreg: 0,
    elu: 0,
    logq: 1,
    epochs: 10,
  }),
});

export type Gru4RecPresetName = keyof typeof GRU4REC_OFFICIAL_PRESETS;
export const GRU4REC_PRESET_NAMES = Object.keys(GRU4REC_OFFICIAL_PRESETS) as Gru4RecPresetName[];

/** The preset's loss (unbound: the trainer binds it to the training sessions' counts, the official P0). */
export function presetLoss(params: Gru4RecOfficialParams): LossFunction {
  const negatives = {
    inBatch: true,
    numNegatives: params.nSample,
    sampler: { kind: 'popularity' as const, alpha: params.sampleAlpha },
    removeAccidentalHits: false,
  };
  if (params.loss === 'bpr-max') return createLoss('bpr-max', { ...negatives, bpreg: params.bpreg, elu: params.elu });
  return createLoss('in-batch', { ...negatives, logQ: params.logq, logQForm: 'gru4rec' });
}

/** The preset's model options (itemCount and seed come from the caller). */
export function presetModel(params: Gru4RecOfficialParams): Omit<GRU4RecOptions, 'itemCount'> {
  return { embeddingDim: params.hidden, hiddenDim: params.hidden, dropout: params.dropoutEmbed, hiddenDropout: params.dropoutHidden, outputBias: true };
}
