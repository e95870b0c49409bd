/**
 * Preload for measurements only: ComiRec-SA's attention layers (W1, b1, W2) get
 * torch.nn.Linear's default initialisation, U(±1/sqrt(fan_in)) for kernels and bias — what the
 * PyTorch peer's model gets — instead of seqrec's TF-style Glorot kernels and zero bias, without
 * changing seqrec's source (a model option would also need the checkpoint schema to know it).
 *
 *   node --import tsx --import ./bench/parity/torch-init.ts src/cli/main.ts bench ... --models comirec-sa
 */
import { Random } from '../../src/util/random.js';
import { BaseRecaller } from '../../src/models/base.js';
import { uniformArray } from '../../src/models/layers/init.js';

type AddWeight = (this: BaseRecaller, name: string, values: Float32Array, shape: number[]) => unknown;
const proto = BaseRecaller.prototype as unknown as { addWeight: AddWeight };
const addWeight = proto.addWeight;
proto.addWeight = function (this: BaseRecaller, name, values, shape) {
  if (this.name === 'comirec-sa' && name.startsWith('attention/')) {
    const seed = (this as unknown as { config: { seed: number } }).config.seed;
    const fanIn = name === 'attention/w2' ? shape[0] : this.embeddingDim; // W1 [D, 4D], b1 [4D]: fan_in D; W2 [4D, K]: 4D
    const salt = name === 'attention/w1' ? 1 : name === 'attention/b1' ? 2 : 3;
    values = uniformArray(new Random(seed * 31 + salt), values.length, 1 / Math.sqrt(fanIn));
  }
  return addWeight.call(this, name, values, shape);
};
process.stderr.write('[parity] ComiRec-SA attention layers: torch.nn.Linear default init\n');
