#!/usr/bin/env python3
"""Times one training step of kiln and PyTorch side by side, in one run.

Two models at batch 100 with Adam(1e-3), both on the same random data:
  convnet  the fashion_mnist main job: Conv2D 32 5x5 same relu, max-pool 2,
           Conv2D 64 5x5 same relu, max-pool 2, Flatten, Dense 1024 relu,
           Dropout 0.4, Dense 10; sparse cross-entropy from logits
  mlp      784-512-512-10 (relu), same loss
kiln's numbers are kiln_bench's BM_TrainStep/<backend>/<model> medians (the
whole compiled step: forward, loss, gradients, Adam update); PyTorch 1.13's
are the median of 30 steps (zero_grad, forward, loss, backward, step) after
5 warm-up steps, the better of torch.set_num_threads(1) and (2). Prints
kiln / torch ratios (below 1: kiln is faster).

  python3 bench/compare_training.py build/bench/kiln_bench [--threads 2]
"""
import argparse
import json
import os
import subprocess
import sys
import time


def kiln_times(binary, threads):
    env = dict(os.environ, KILN_NUM_THREADS=str(threads))
    out = subprocess.run(
        [binary, "--benchmark_filter=BM_TrainStep/", "--benchmark_format=json",
         "--benchmark_repetitions=3", "--benchmark_report_aggregates_only=true"],
        env=env, check=True, capture_output=True, text=True).stdout
    times = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") == "median":
            name = b["run_name"].split("/min_time")[0].replace("/real_time", "")
            times[name] = b["real_time"]  # ms
    return times


def torch_models(torch):
    nn = torch.nn
    convnet = nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(7 * 7 * 64, 1024), nn.ReLU(), nn.Dropout(0.4),
        nn.Linear(1024, 10))
    mlp = nn.Sequential(
        nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    return {"convnet": (convnet, (100, 1, 28, 28)), "mlp": (mlp, (100, 784))}


def torch_step_ms(torch, model, input_shape, threads, steps=30, warmup=5):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x = torch.rand(*input_shape)
    y = torch.randint(0, 10, (input_shape[0],))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()

    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    return times[len(times) // 2]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("kiln_bench")
    parser.add_argument("--threads", type=int, default=2, help="kiln's thread count")
    args = parser.parse_args()
    # OpenMP spin-waits badly on shared cores unless its pool size is pinned.
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    try:
        import torch
    except ImportError:
        sys.exit("PyTorch is not installed (/usr/bin/python3 with torch 1.13)")
    kiln = kiln_times(args.kiln_bench, args.threads)
    print(f"torch {torch.__version__}; kiln with {args.threads} threads")
    print(f"{'model':10s} {'kiln backend':>12s} {'kiln ms':>9s} {'torch ms':>9s} {'ratio':>7s}")
    for name, (model, shape) in torch_models(torch).items():
        torch_ms = min(torch_step_ms(torch, model, shape, t) for t in (1, 2))
        for backend in ("jit", "interp"):
            k = kiln.get(f"BM_TrainStep/{backend}/{name}")
            if k is not None:
                print(f"{name:10s} {backend:>12s} {k:9.2f} {torch_ms:9.2f} {k / torch_ms:7.2f}")


if __name__ == "__main__":
    main()
