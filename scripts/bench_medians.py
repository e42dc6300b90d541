#!/usr/bin/env python3
"""Medians (and ranges) of several `speecht5 bench` runs per precision and batch size, interleaved so that a
noisy spell on a shared machine hits every configuration alike; also the batch-N / batch-1 frames-per-second
ratio of each round.

    python3 scripts/bench_medians.py [--engine .build/release/speecht5] [--dir /tmp/speecht5-fullsize]
        [--runs 5] [--precision fp32 bf16 int8] [--batch 8] [--repeats 3] [--baseline OTHER_ENGINE]

With --baseline (e.g. the binary of an earlier commit, built in a git worktree), both engines run in turn in
every round, and each figure is printed for both with the ratio of the medians (engine / baseline): on a
shared machine, the only fair before/after.

DIR/model and DIR/vocoder are the full-size random checkpoints that scripts/bench_side_by_side.py (or
scripts/fullsize_check.py) writes.
"""
import argparse
import json
import os
import statistics
import subprocess

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
KEYS = ["loadSeconds", "encoderMs", "decoderStepMs", "postnetMs", "vocoderSecondsPerAudioSecond", "realTimeFactor",
        "timeToFirstAudioMs", "peakRSSMegabytes", "framesPerSecond"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", default=os.path.join(REPO, ".build", "release", "speecht5"))
    ap.add_argument("--dir", default="/tmp/speecht5-fullsize")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--precision", nargs="+", default=["fp32", "bf16", "int8"], choices=["fp32", "bf16", "int8"])
    ap.add_argument("--batch", type=int, default=8, help="the batched configuration (1: none)")
    ap.add_argument("--repeats", type=int, default=3, help="repeats inside each bench run")
    ap.add_argument("--baseline", help="another speecht5 binary to interleave with --engine and compare against")
    args = ap.parse_args()
    engines = [args.engine] + ([args.baseline] if args.baseline else [])
    batches = [1] if args.batch <= 1 else [1, args.batch]
    results = {}
    for run in range(args.runs):
        for precision in args.precision:
            for batch in batches:
                for engine in (engines if run % 2 == 0 else engines[::-1]):
                    cmd = [engine, "bench", "--model", os.path.join(args.dir, "model"), "--vocoder",
                           os.path.join(args.dir, "vocoder"), "--precision", precision, "--repeats", str(args.repeats),
                           "--batch", str(batch)]
                    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                    results.setdefault((engine, precision, batch), []).append(json.loads(out))
    for (engine, precision, batch), runs in results.items():
        if engine != args.engine:
            continue
        print(f"{precision} batch {batch}: " + ", ".join(
            f"{k} {statistics.median(r[k] for r in runs):.4g} [{min(r[k] for r in runs):.4g}-{max(r[k] for r in runs):.4g}]"
            for k in KEYS))
        if args.baseline:
            base = results[(args.baseline, precision, batch)]
            print(f"  baseline: " + ", ".join(
                f"{k} {statistics.median(r[k] for r in base):.4g} (x{statistics.median(r[k] for r in runs) / statistics.median(r[k] for r in base):.3f})"
                for k in KEYS if statistics.median(r[k] for r in base)))
    if len(batches) > 1:
        for precision in args.precision:
            ratios = [b["framesPerSecond"] / a["framesPerSecond"]
                      for a, b in zip(results[(args.engine, precision, 1)], results[(args.engine, precision, args.batch)])]
            print(f"{precision} batch-{args.batch} ratio per run: " + ", ".join(f"{x:.2f}" for x in ratios)
                  + f"; median {statistics.median(ratios):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
