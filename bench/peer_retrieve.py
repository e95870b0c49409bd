"""Python faiss (the peer's retrieval: IndexFlatIP, python3-faiss) top-k queries/s.

Usage: /usr/bin/python3 bench/peer_retrieve.py N DIM BATCH QUERIES THREADS K [FACTORY [INDEX_FILE]]
Random N(0,1) item and query vectors (seeded). Prints one JSON line. With INDEX_FILE (an index
seqrec built and saved, e.g. HNSW with its calibrated efSearch), that index is read instead of
built, so both sides search the very same graph with the same search parameters.
"""
import json
import os
import resource
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import faiss  # noqa: E402
import numpy as np  # noqa: E402

n, dim, batch, queries, threads, k = (int(x) for x in sys.argv[1:7])
factory = sys.argv[7] if len(sys.argv) > 7 else "Flat"
index_file = sys.argv[8] if len(sys.argv) > 8 else None
faiss.omp_set_num_threads(threads)
rng = np.random.default_rng(0)
qs = rng.standard_normal((queries, dim), dtype=np.float32)
t0 = time.perf_counter()
if index_file and os.path.exists(index_file):
    index = faiss.read_index(index_file)
    assert index.ntotal == n and index.d == dim, "index file does not match N / DIM"
else:
    items = rng.standard_normal((n, dim), dtype=np.float32)
    index = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        index.train(items)
    index.add(items)
build_s = time.perf_counter() - t0
ef = getattr(getattr(faiss.downcast_index(index), "hnsw", None), "efSearch", None)
index.search(qs[:batch], k)  # warm-up
times = []
for start in range(0, queries, batch):
    t = time.perf_counter()
    index.search(qs[start:start + batch], k)
    times.append((time.perf_counter() - t) / min(batch, queries - start))
times.sort()
per_query = times[len(times) // 2]
print(json.dumps({"side": f"python faiss {factory} {threads}t", "N": n, "loaded": bool(index_file and os.path.exists(index_file)), "efSearch": ef, "dim": dim, "batch": batch, "k": k,
                  "queries_per_second": 1.0 / per_query, "build_seconds": build_s,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
