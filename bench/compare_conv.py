#!/usr/bin/env python3
"""Times issue 4's convolution shapes in kiln and PyTorch side by side.

Runs kiln_bench's BM_Conv2D / BM_DepthwiseConv2D benchmarks, then the same
convolutions in torch (channels_last and contiguous layouts, the faster one
counts) with the same thread count, and prints kiln / torch ratios.

  python3 bench/compare_conv.py build/bench/kiln_bench [--threads 2]
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
        [binary, "--benchmark_filter=BM_(Depthwise)?Conv2D/", "--benchmark_format=json",
         "--benchmark_repetitions=5", "--benchmark_report_aggregates_only=true"],
        env=env, check=True, capture_output=True, text=True).stdout
    times = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") == "median":
            times[b["run_name"].replace("/real_time", "")] = b["real_time"]  # ms
    return times


def torch_ms(fn, repeats=20):
    fn()
    best = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best.append((time.perf_counter() - t) * 1e3)
    best.sort()
    return best[len(best) // 2]


def torch_times(threads):
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(threads)
    results = {}
    for name, cin, cout, groups in [("BM_Conv2D", 64, 64, 1), ("BM_DepthwiseConv2D", 128, 128, 128)]:
        for layout in (torch.contiguous_format, torch.channels_last):
            x = torch.randn(8, cin, 56, 56).to(memory_format=layout).requires_grad_(True)
            w = torch.randn(cout, cin // groups, 3, 3).to(memory_format=layout).requires_grad_(True)
            fwd = lambda: F.conv2d(x, w, padding=1, groups=groups)
            results.setdefault(name + "/fwd", []).append(torch_ms(lambda: fwd()))
            if groups == 1:
                def fwdbwd():
                    y = fwd()
                    y.backward(torch.ones_like(y))
                results.setdefault(name + "/fwdbwd", []).append(torch_ms(fwdbwd))
    return {k: min(v) for k, v in results.items()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("kiln_bench")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    kiln = kiln_times(args.kiln_bench, args.threads)
    try:
        torch = torch_times(args.threads)
    except ImportError:
        sys.exit("PyTorch is not installed (apt-get install python3-torch)")
    print(f"{'benchmark':36s} {'kiln ms':>9s} {'torch ms':>9s} {'ratio':>7s}")
    for key, ms in sorted(torch.items()):
        name, phase = key.split("/")
        for backend in ("jit", "interp"):
            k = kiln.get(f"{name}/{backend}/{phase}")
            if k is not None:
                print(f"{name + '/' + backend + '/' + phase:36s} {k:9.2f} {ms:9.2f} {k / ms:7.2f}")


if __name__ == "__main__":
    main()
