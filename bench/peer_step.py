"""Runs the PyTorch peer's own micro-benchmark step (peer_torch.bench.bench_one) at a given shape.

Usage: /usr/bin/python3 bench/peer_step.py PEER_DIR MODEL B L D N THREADS STEPS
(MODEL sasrec: the peer's bench_sasrec, full softmax at every position of full windows;
sasrec-sampled: the same with sampled softmax, 256 uniform negatives shared by the batch.)
Prints one JSON line. The peer's CLI fixes its shapes; this calls the same function with ours.
"""
import json
import os
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the peer's CLI does (--blas-threads 1)
import resource
import sys

peer_dir, model, B, L, D, N, threads, steps = sys.argv[1:9]
sys.path.insert(0, peer_dir)
import torch  # noqa: E402
from peer_torch.bench import bench_one, bench_sasrec  # noqa: E402

torch.set_num_threads(int(threads))
if model in ("sasrec", "sasrec-sampled"):
    # Every position of full windows (the peer's SEQ_SHAPES recipes at our shape).
    loss, n_neg = ("softmax", None) if model == "sasrec" else ("sampled", 256)
    r = bench_sasrec(int(B), int(L), int(D), int(N), loss, n_neg, warmup=3, steps=int(steps))
else:
    r = bench_one(model, int(B), int(L), int(D), int(N), warmup=3, steps=int(steps))
r["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
r["threads"] = int(threads)
print(json.dumps(r))
