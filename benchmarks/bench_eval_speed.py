"""Top-down evaluation speed, this checkout against an earlier commit, in the same run.

    python benchmarks/bench_eval_speed.py --against COMMIT [--models hourglass-lsp cpn-lsp] [--crops 128] [--repeats 3]
        [--threads 2]

Each measurement is a fresh process that scores the first ``--crops`` LSPET test people with flip test (batch 32,
``--threads`` threads) through ``predict_dataset``, as ``posekit eval`` does; the earlier commit runs from a temporary git worktree.
Processes alternate between the two checkouts; the table gives medians of wall-clock, user and kernel (sys) seconds
per crop and the ratio earlier / now. The models are read from this checkout's zoo in both, so only code differs.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from common import ROOT, SHARED_DATA, machine

CHILD = r"""
import json, resource, sys, time
import torch
try:
    from posekit.runtime import keep_freed_memory  # what the posekit command calls first, where it exists
    keep_freed_memory()
except ImportError:
    pass
from posekit.data.coco import load_coco
from posekit.data.lsp import convert_lsp
from posekit.data.topdown import TopDownDataset
from posekit.inference.topdown import TopDownEstimator, predict_dataset
weights, lsp, crops = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch.set_num_threads(int(sys.argv[4]))
gt = load_coco(convert_lsp(lsp + "/joints.mat", lsp + "/images", None, f"8501:{8500 + crops}"), images_dir=lsp + "/images")
estimator = TopDownEstimator.load(weights)
dataset = TopDownDataset(gt, estimator.codec, None, estimator.padding)
predict_dataset(estimator.model, dataset, flip=True, mean=estimator.mean, std=estimator.std)  # warm-up
t, r = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
predict_dataset(estimator.model, dataset, flip=True, mean=estimator.mean, std=estimator.std)
s = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall": time.perf_counter() - t, "user": s.ru_utime - r.ru_utime, "sys": s.ru_stime - r.ru_stime}))
"""


def measure(checkout: str, weights: str, crops: int, threads: int) -> dict:
    env = {**os.environ, "PYTHONPATH": checkout}
    out = subprocess.run([sys.executable, "-c", CHILD, weights, str(SHARED_DATA / "lspet"), str(crops), str(threads)],
                         env=env,
                         cwd=checkout, capture_output=True, text=True, check=True)
    return {k: v / crops for k, v in json.loads(out.stdout.splitlines()[-1]).items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--against", required=True, help="the earlier commit to compare with")
    ap.add_argument("--models", nargs="+", default=["hourglass-lsp", "cpn-lsp"], help="zoo names of this checkout")
    ap.add_argument("--crops", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        earlier = os.path.join(tmp, "earlier")
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", earlier, args.against], check=True,
                       capture_output=True)
        try:
            print(f"{machine()}; {args.crops} LSPET test crops with flip, batch 32, {args.threads} threads; "
                  f"medians of {args.repeats}; earlier = {args.against}")
            print("| model | earlier: ms/crop (user, sys) | now: ms/crop (user, sys) | earlier / now |")
            print("|---|---|---|---|")
            for name in args.models:
                weights = str(ROOT / "posekit" / "zoo" / f"{name}.safetensors")
                runs = {"earlier": [], "now": []}
                for _ in range(args.repeats):
                    runs["earlier"].append(measure(earlier, weights, args.crops, args.threads))
                    runs["now"].append(measure(str(ROOT), weights, args.crops, args.threads))
                med = {side: {k: 1000 * statistics.median(r[k] for r in rs) for k in ("wall", "user", "sys")}
                       for side, rs in runs.items()}
                cells = [f"{m['wall']:.1f} ({m['user']:.1f}, {m['sys']:.1f})" for m in (med["earlier"], med["now"])]
                print(f"| {name} | {cells[0]} | {cells[1]} | x{med['earlier']['wall'] / med['now']['wall']:.2f} |")
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", earlier], check=True)


if __name__ == "__main__":
    main()
