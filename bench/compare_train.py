#!/usr/bin/env python3
"""Times issue 6's training step in kiln and PyTorch side by side.

Runs kiln_bench's BM_TrainStep benchmarks (a 784-512-512-10 relu perceptron,
batch 100, sparse categorical crossentropy on logits, Adam), then the same
step in torch (forward, cross_entropy, backward, Adam.step) with the same
thread count, and prints the medians and the kiln / torch ratios. On a
machine whose cores other jobs also use, compare at --threads 1 too: torch's
OpenMP pool slows down sharply when oversubscribed.

  python3 bench/compare_train.py build/bench/kiln_bench [--threads 2]
"""
import argparse
import json
import os
import subprocess
import time


def kiln_times(binary, threads):
    env = dict(os.environ, KILN_NUM_THREADS=str(threads))
    out = subprocess.run(
        [binary, "--benchmark_filter=BM_TrainStep/", "--benchmark_format=json",
         "--benchmark_repetitions=5", "--benchmark_report_aggregates_only=true"],
        env=env, check=True, capture_output=True, text=True).stdout
    times = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") == "median":
            times[b["run_name"].replace("/real_time", "")] = b["real_time"]  # ms
    return times


def torch_step_ms(threads, steps=200):
    # OpenMP spin-waits badly when the cores are shared: pin its pool size.
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    x = torch.rand(100, 784)
    y = torch.randint(0, 10, (100,))

    def step():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    for _ in range(10):
        step()
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(steps // 5):
            step()
        samples.append((time.perf_counter() - start) * 1e3 / (steps // 5))
    samples.sort()
    return samples[len(samples) // 2]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    kiln = kiln_times(args.binary, args.threads)
    torch_ms = torch_step_ms(args.threads)
    print(f"torch train step: {torch_ms:.3f} ms ({args.threads} threads)")
    for name, ms in sorted(kiln.items()):
        print(f"{name}: {ms:.3f} ms, kiln / torch = {ms / torch_ms:.2f}")


if __name__ == "__main__":
    main()
