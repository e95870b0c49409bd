/**
 * Gradient overrides, registered once over tfjs-core's own (src/backend/tfjs-extras.js).
 *
 * tfjs-core's Sum and Mean gradients broadcast dy by multiplying it with `ones(x.shape)`, a
 * JavaScript array of x's size filled and uploaded on every backward pass: 28 ms of a 100 ms
 * ComiRec-DR step at B 256 x K 4 x L 20 x D 64. Here the ones come from the backend's Fill
 * kernel (no JavaScript array), so the values are the same bits. (Tile, the other way to
 * broadcast, is 10x slower than a broadcasting multiply on wasm.)
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap } from '@tensorflow/tfjs-core';

/** dy of a reduction over `axis`, broadcast back to the input's shape. */
function broadcastBack(dy: tf.Tensor, x: tf.Tensor, axis: number | number[]): tf.Tensor {
  const kept = x.shape.slice();
  for (const a of tf.util.parseAxisParam(axis, x.shape)) kept[a] = 1;
  return tf.mul(tf.reshape(dy, kept), tf.fill(x.shape, 1, 'float32'));
}

let registered = false;

export function registerSeqrecGradients(): void {
  if (registered) return;
  registered = true;
  tf.registerGradient({
    kernelName: 'Sum',
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs: NamedAttrMap) => ({ x: () => broadcastBack(dy as tf.Tensor, x, attrs.axis as number | number[]) }),
  });
  tf.registerGradient({
    kernelName: 'Mean',
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs: NamedAttrMap) => {
      const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape);
      const reduceSize = axes.reduce((n, a) => n * x.shape[a], 1);
      return { x: () => tf.div(broadcastBack(dy as tf.Tensor, x, axes), reduceSize) };
    },
  });
}
