/**
 * Preload for measurements only: makes `tf.train.adam` default to epsilon PARITY_ADAM_EPSILON
 * (default 1e-8, torch's and TF1's AdamOptimizer's; TF.js's own default is the backend epsilon,
 * 1e-7) without changing seqrec's source. An explicitly passed epsilon is kept.
 *
 *   PARITY_ADAM_EPSILON=1e-8 node --import tsx --import ./bench/parity/adam-epsilon.ts src/cli/main.ts bench ...
 */
import * as tf from '@tensorflow/tfjs-core';

const epsilon = Number(process.env.PARITY_ADAM_EPSILON ?? 1e-8);
if (!(epsilon > 0)) throw new Error(`PARITY_ADAM_EPSILON must be > 0, got ${process.env.PARITY_ADAM_EPSILON}`);
const adam = tf.train.adam.bind(tf.train);
tf.train.adam = (learningRate?: number, beta1?: number, beta2?: number, eps?: number | null) => adam(learningRate, beta1, beta2, eps ?? epsilon);
process.stderr.write(`[parity] tf.train.adam epsilon defaults to ${epsilon}\n`);
