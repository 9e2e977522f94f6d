#!/usr/bin/python3
"""Times issue 4's convolution shapes in kiln and PyTorch side by side.

Runs kiln_bench's BM_Conv2D / BM_DepthwiseConv2D / BM_Convnet* benchmarks,
then the same convolutions and max pools in torch (channels_last and
contiguous layouts, the faster one counts) with the same thread count, and
prints kiln / torch ratios.

  /usr/bin/python3 bench/compare_conv.py build/bench/kiln_bench [--threads 2]
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
        [binary, "--benchmark_filter=BM_(Depthwise)?Conv(2D|net)", "--benchmark_format=json",
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


# (name, batch, size, cin, cout, groups, kernel, pool, backward too)
CASES = [
    ("BM_Conv2D", 8, 56, 64, 64, 1, 3, 0, True),
    ("BM_DepthwiseConv2D", 8, 56, 128, 128, 128, 3, 0, False),
    ("BM_ConvnetConv1", 100, 28, 1, 32, 1, 5, 0, True),
    ("BM_ConvnetConv2", 100, 14, 32, 64, 1, 5, 0, True),
    ("BM_ConvnetPool1", 100, 28, 32, 32, 1, 0, 2, True),
    ("BM_ConvnetPool2", 100, 14, 64, 64, 1, 0, 2, True),
]


def torch_times(threads):
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(threads)
    results = {}
    for name, batch, size, cin, cout, groups, kernel, pool, backward in CASES:
        for layout in (torch.contiguous_format, torch.channels_last):
            x = torch.randn(batch, cin, size, size).to(memory_format=layout).requires_grad_(True)
            if pool:
                fwd = lambda: F.max_pool2d(x, pool, pool)
            else:
                w = torch.randn(cout, cin // groups, kernel, kernel).to(
                    memory_format=layout).requires_grad_(True)
                fwd = lambda: F.conv2d(x, w, padding=(kernel - 1) // 2, groups=groups)
            with torch.no_grad():
                results.setdefault(name + "/fwd", []).append(torch_ms(fwd))
            if backward:
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
