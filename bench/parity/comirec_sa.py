"""ComiRec-SA training parity, torch side (issue #15 item 6).

Reads the dump of bench/parity-comirec-sa.ts (seqrec's initial weights, batches, per-step
losses, gradients and weights), loads the same initial weights into the PyTorch peer's own
ComiRecSA class (imported from PEER_DIR, not copied), trains it on the same batches with the
peer's full softmax and torch.optim.Adam, and prints step by step:
  loss (both), per-parameter gradient max-abs-diff and relative L2 diff ||g_t - g_s|| / ||g_s||,
  the weight diff after the step; for the item table also split by rows the batch touches
  (history + targets) and rows only the softmax reaches; and a "resync" gradient check
  (torch's gradient at seqrec's weights before step k, which isolates the gradient path from
  the accumulated divergence). Also compares both sides' default initialisations.

  /usr/bin/python3 bench/parity/comirec_sa.py DUMP_DIR [--peer ../shared/peer-torch] [--eps 1e-8]
      [--threads 1]
"""
from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("dump")
p.add_argument("--peer", default="../shared/peer-torch")
p.add_argument("--eps", type=float, default=1e-8, help="torch Adam epsilon (torch's default 1e-8)")
p.add_argument("--threads", type=int, default=1)
p.add_argument("--json", default=None, help="also write the per-step numbers here")
args = p.parse_args()
sys.path.insert(0, os.path.abspath(args.peer))
import torch  # noqa: E402
from peer_torch.losses import full_softmax  # noqa: E402
from peer_torch.models import ComiRecSA  # noqa: E402

torch.set_num_threads(args.threads)
man = json.load(open(os.path.join(args.dump, "manifest.json")))
cfg = man["config"]
N, D, L, K = cfg["itemCount"] - 1, cfg["embeddingDim"], cfg["maxLen"], cfg["numInterests"]
shapes = {w["name"]: w["shape"] for w in man["weights"]}
files = {w["name"]: w["file"] for w in man["weights"]}


def load(sub: str) -> dict:
    return {n: np.fromfile(os.path.join(args.dump, sub, files[n]), dtype="<f4").reshape(shapes[n]) for n in shapes}


# seqrec name -> (torch parameter, transpose?)
def torch_params(m):
    return {"item_embeddings": (m.item_emb.weight, False), "positions": (m.pos, False),
            "attention/w1": (m.W1.weight, True), "attention/b1": (m.W1.bias, False),
            "attention/w2": (m.W2.weight, True)}


def as_seqrec(t: torch.Tensor, transpose: bool) -> np.ndarray:
    a = t.detach().numpy()
    return a.T if transpose else a


def set_weights(m, w: dict):
    with torch.no_grad():
        for n, (prm, tr) in torch_params(m).items():
            prm.copy_(torch.from_numpy(np.ascontiguousarray(w[n].T if tr else w[n])))


def stats(a: np.ndarray) -> str:
    return f"std {a.std():.4f} max|.| {np.abs(a).max():.4f}"


# --- 1. default initialisations of the two sides -------------------------------------------
torch.manual_seed(cfg["seed"])
fresh = ComiRecSA(N, D, L, K)
init = load("init")
print(f"# ComiRec-SA parity: N={N} D={D} L={L} K={K}, batch {man['batchSize']}, lr {man['lr']}, "
      f"seqrec Adam eps {man['adamEpsilon']:g} vs torch {args.eps:g}, seqrec init '{man['init']}'")
print("\n## default initialisation (seqrec's dump vs a fresh peer model, torch.manual_seed(seed))")
print("| weight | seqrec | peer |\n|---|---|---|")
for n, (prm, tr) in torch_params(fresh).items():
    print(f"| {n} | {stats(init[n])} | {stats(as_seqrec(prm, tr))} |")

# --- 2. identical weights, identical batches ---------------------------------------------
model = ComiRecSA(N, D, L, K)
set_weights(model, init)
opt = torch.optim.Adam(model.parameters(), lr=man["lr"], betas=(0.9, 0.999), eps=args.eps)
batches = json.load(open(os.path.join(args.dump, "batches.json")))
dumped = set(man["dumped"])


def tensors(b):
    B, Lb = b["batchSize"], b["maxLen"]
    hist = torch.tensor(b["history"], dtype=torch.long).view(B, Lb)
    mask = torch.tensor(b["mask"], dtype=torch.float32).view(B, Lb)
    return hist, mask, torch.tensor(b["targets"], dtype=torch.long)


def loss_of(m, b):
    hist, mask, target = tensors(b)
    return full_softmax(m.train_vectors(hist, mask, target), target, m.item_vectors())


def rel(a, b):
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def touched_rows(b):
    h = np.array(b["history"]).reshape(b["batchSize"], b["maxLen"])
    m = np.array(b["mask"]).reshape(h.shape) > 0
    return np.unique(np.concatenate([h[m], np.array(b["targets"])]))


print("\n## step by step (g = gradient of the step, w = weights after it; g rel = ||g_torch - g_seqrec|| / ||g_seqrec||;"
      " resync = torch's gradient at seqrec's weights; w rel = ||w_torch - w_seqrec|| / ||w_seqrec - w_init||)")
print("| step | loss seqrec | loss torch | weight | |g| seqrec | |g| torch | g max-abs-diff | g rel | "
      "resync g rel | w max-abs-diff | w rel |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
record = []
prev_seqrec = init  # seqrec's weights before this step, when the previous step was dumped
last_dump = {"seqrec": init, "torch": {n: as_seqrec(prm, tr).copy() for n, (prm, tr) in torch_params(model).items()}}
for k in range(1, man["steps"] + 1):
    b = batches[k - 1]
    opt.zero_grad(set_to_none=True)
    loss = loss_of(model, b)
    loss.backward()
    lt, ls = float(loss), man["losses"][k - 1]
    row = {"step": k, "loss_seqrec": ls, "loss_torch": lt}
    if k in dumped:
        gs, ws = load(f"step{k}/grad"), load(f"step{k}/after")
        # resync: torch's gradient at seqrec's own weights before this step
        resync = None
        if prev_seqrec is not None:
            probe = ComiRecSA(N, D, L, K)
            set_weights(probe, prev_seqrec)
            loss_of(probe, b).backward()
            resync = {n: as_seqrec(prm.grad, tr) for n, (prm, tr) in torch_params(probe).items()}
        gt = {n: as_seqrec(prm.grad, tr) for n, (prm, tr) in torch_params(model).items()}
    opt.step()
    if k in dumped:
        wt = {n: as_seqrec(prm, tr).copy() for n, (prm, tr) in torch_params(model).items()}
        for i, n in enumerate(shapes):
            rs = f"{rel(resync[n], gs[n]):.2e}" if resync else "-"
            # divergence relative to the distance seqrec's weights travelled since the start
            wrel = float(np.linalg.norm(wt[n] - ws[n]) / max(np.linalg.norm(ws[n] - init[n]), 1e-30))
            print(f"| {k if i == 0 else ''} | {f'{ls:.6f}' if i == 0 else ''} | {f'{lt:.6f}' if i == 0 else ''} | {n} | "
                  f"{np.linalg.norm(gs[n]):.3e} | {np.linalg.norm(gt[n]):.3e} | {np.abs(gt[n] - gs[n]).max():.2e} | "
                  f"{rel(gt[n], gs[n]):.2e} | {rs} | {np.abs(wt[n] - ws[n]).max():.2e} | {wrel:.2e} |")
            row[n] = {"g_norm_seqrec": float(np.linalg.norm(gs[n])), "g_norm_torch": float(np.linalg.norm(gt[n])),
                      "g_rel": rel(gt[n], gs[n]), "resync_g_rel": rel(resync[n], gs[n]) if resync else None,
                      "w_maxabs": float(np.abs(wt[n] - ws[n]).max()), "w_rel_of_change": wrel}
        # item table: the update of rows the batch touches vs rows only the softmax reaches
        rows = touched_rows(b)
        other = np.setdiff1d(np.arange(1, N + 1), rows)
        # (since the previous dumped step, on both sides; "this step" when k-1 was dumped too)
        dt = wt["item_embeddings"] - last_dump["torch"]["item_embeddings"]
        ds_ = ws["item_embeddings"] - last_dump["seqrec"]["item_embeddings"]
        for label, r in (("touched", rows), ("softmax-only", other)):
            nt, ns = np.abs(dt[r]).mean(), np.abs(ds_[r]).mean()
            print(f"|  |  |  | item rows {label} by step {k} ({len(r)}) mean |update| since last dump | {ns:.3e} (seqrec) | "
                  f"{nt:.3e} (torch) | ratio seqrec/torch {ns / max(nt, 1e-30):.3f} |  |  |  |  |")
            row[f"update_{label}"] = {"seqrec": float(ns), "torch": float(nt)}
        prev_seqrec = ws
        last_dump = {"seqrec": ws, "torch": wt}
    else:
        prev_seqrec = None
    record.append(row)

print("\n## loss per step")
print("| step | seqrec | torch | diff |\n|---|---|---|---|")
for r in record:
    if r["step"] in dumped or r["step"] % 25 == 0:
        print(f"| {r['step']} | {r['loss_seqrec']:.6f} | {r['loss_torch']:.6f} | {r['loss_torch'] - r['loss_seqrec']:+.2e} |")
if args.json:
    json.dump({"manifest": {k: v for k, v in man.items() if k != "losses"}, "torch_eps": args.eps, "steps": record}, open(args.json, "w"))
