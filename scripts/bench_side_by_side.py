#!/usr/bin/env python3
"""Side-by-side speed of PyTorch (transformers) and this engine on the same full-size random checkpoint.

    .venv-reference/bin/python scripts/bench_side_by_side.py [--engine .build/release/speecht5] [--threads 2]
        [--tokens 101] [--frames 404] [--repeats 5] [--precision fp32 bf16 int8] [--batch 8]

1. Writes the full-size random checkpoint once (scripts/fullsize_check.py's builder; default directory
   /tmp/speecht5-fullsize, outside the repository) and reuses it afterwards.
2. PyTorch, `--threads` threads, `--repeats` times each: load (from_pretrained of both directories), encoder on
   `--tokens` tokens, the whole generation of `--frames` frames with the stop token disabled (the section-13
   pre-net dropout, so both sides do the same work), post-net, vocoder. The decoder's per-step time is
   (generation - encoder - post-net) / steps, because generate_speech times them together.
3. The engine: `speecht5 bench` with the same tokens, frames, repeats and threads (it reports its own
   per-stage medians as JSON).
4. Prints both medians and the ratio (PyTorch time / engine time: above 1 means the engine is faster), for
   each engine precision asked for against the one PyTorch (float32) run.
5. With `--batch N` (default 8, 0 to skip), runs the engine's bench again with N rows per decoder step and
   prints the frames per second against the single-stream run's.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
REPO = os.path.normpath(os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "fixtures"))
import fullsize_check  # noqa: E402
import make_model_fixtures as fx  # noqa: E402
from prenet_dropout import PrenetDropoutPatch  # noqa: E402


def bench_torch(model_dir, voc_dir, tokens, frames, repeats):
    from transformers import SpeechT5ForTextToSpeech, SpeechT5HifiGan

    loads = []
    for _ in range(max(1, min(repeats, 3))):
        t0 = time.perf_counter()
        model = SpeechT5ForTextToSpeech.from_pretrained(model_dir).eval()
        voc = SpeechT5HifiGan.from_pretrained(voc_dir).eval()
        loads.append(time.perf_counter() - t0)
    cfg = model.config
    r = cfg.reduction_factor
    steps = max(1, frames // r)
    # The same ids as the engine's bench: characters 5… in a fixed pattern, then EOS.
    span = max(1, min(cfg.vocab_size, 79) - 5)
    ids = torch.tensor([[5 + (i * 7) % span for i in range(tokens - 1)] + [cfg.eos_token_id]])
    speaker = torch.tensor([np.sin(np.float32(i) * np.float32(0.37)) for i in range(cfg.speaker_embedding_dim)],
                           dtype=torch.float32)[None]
    maxr = (steps + 0.5) * r / tokens
    enc, gen, post, vocs, total = [], [], [], [], []
    with torch.no_grad():
        for _ in range(repeats):
            t0 = time.perf_counter()
            model.speecht5.encoder(input_values=ids, attention_mask=torch.ones_like(ids))
            enc.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            with PrenetDropoutPatch(1, cfg.speech_decoder_prenet_layers):
                mel = model.generate_speech(ids, speaker_embeddings=speaker, threshold=1e9, maxlenratio=maxr)
            g = time.perf_counter() - t0
            gen.append(g)
            assert mel.shape[0] == steps * r, mel.shape
            t0 = time.perf_counter()
            model.speech_decoder_postnet.postnet(mel[None])
            post.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            wave = voc(mel)
            v = time.perf_counter() - t0
            audio = wave.shape[-1] / voc.config.sampling_rate
            vocs.append(v / audio)
            total.append((g + v) / audio)
    med = statistics.median
    return {
        "loadSeconds": med(loads),
        "encoderMs": med(enc) * 1000,
        "decoderStepMs": (med(gen) - med(enc) - med(post)) / steps * 1000,
        "postnetMs": med(post) * 1000,
        "vocoderSecondsPerAudioSecond": med(vocs),
        "realTimeFactor": med(total),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", default=os.path.join(REPO, ".build", "release", "speecht5"))
    ap.add_argument("--dir", default="/tmp/speecht5-fullsize")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=101)
    ap.add_argument("--frames", type=int, default=404)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--precision", nargs="+", default=["fp32"], choices=["fp32", "bf16", "int8"])
    ap.add_argument("--batch", type=int, default=8, help="rows for the batching run (0: skip it)")
    args = ap.parse_args()

    model_dir, voc_dir = os.path.join(args.dir, "model"), os.path.join(args.dir, "vocoder")
    if not os.path.isfile(os.path.join(model_dir, "model.safetensors")):
        fullsize_check.build(args.dir, fx.SPM_PATH, fullsize_check.DEFAULT_TEXT, 1234, 200)
    if not os.access(args.engine, os.X_OK):
        print(f"engine missing: {args.engine} (swift build -c release)", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    print(f"work: {args.tokens} tokens -> {args.frames} frames, {args.threads} threads, {args.repeats} repeats; "
          f"torch {torch.__version__}", flush=True)
    reference = bench_torch(model_dir, voc_dir, args.tokens, args.frames, args.repeats)
    def engine_bench(precision, batch=1, frames=args.frames):
        cmd = [args.engine, "bench", "--model", model_dir, "--vocoder", voc_dir, "--tokens", str(args.tokens),
               "--frames", str(frames), "--repeats", str(args.repeats), "--threads", str(args.threads),
               "--precision", precision, "--batch", str(batch)]
        return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)

    for precision in args.precision:
        engine = engine_bench(precision)
        print(f"\nengine precision {precision} (torch float32)")
        print(f"{'stage':34} {'torch':>10} {'engine':>10} {'ratio':>7}")
        for key, unit in [("loadSeconds", "s"), ("encoderMs", "ms"), ("decoderStepMs", "ms"), ("postnetMs", "ms"),
                          ("vocoderSecondsPerAudioSecond", "s/s"), ("realTimeFactor", "")]:
            t, e = reference[key], engine[key]
            print(f"{key + (' (' + unit + ')' if unit else ''):34} {t:10.4f} {e:10.4f} {t / e:7.2f}x")
        print(f"engine only: time to first audio {engine['timeToFirstAudioMs']:.1f} ms, peak RSS "
              f"{engine['peakRSSMegabytes']:.0f} MB, {engine['framesPerSecond']:.0f} frames/s, "
              f"kernels {engine['settings'].get('cpu', '?')}", flush=True)
        if args.batch > 1:
            batched = engine_bench(precision, batch=args.batch)
            print(f"engine batch {args.batch}: {batched['framesPerSecond']:.0f} frames/s, "
                  f"{batched['framesPerSecond'] / engine['framesPerSecond']:.2f}x the single stream's "
                  f"{engine['framesPerSecond']:.0f}; step {batched['decoderStepMs']:.2f} ms for {args.batch} rows",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
