#!/usr/bin/python3
"""Times issue 4's convolution shapes in kiln and PyTorch side by side.

Runs kiln_bench's BM_Conv2D / BM_DepthwiseConv2D / BM_Convnet* benchmarks,
then the same convolutions and max pools in torch (channels_last and
contiguous layouts, the faster one counts) with the same thread count, and
prints kiln / torch ratios. The machine may be shared, so kiln and torch
alternate for --rounds rounds and each side's best (minimum) time counts;
process CPU time (all threads; torch's OpenMP threads sleep instead of
spinning) is printed beside wall time, as a shared machine disturbs it less.

  /usr/bin/python3 bench/compare_conv.py build/bench/kiln_bench [--threads 2]
"""
import argparse
import json
import os
import subprocess
import sys
import time


def kiln_times(binary, threads, backends):
    env = dict(os.environ, KILN_NUM_THREADS=str(threads))
    out = subprocess.run(
        [binary, f"--benchmark_filter=BM_(Depthwise)?Conv(2D|net)[A-Za-z0-9]*/({backends})/",
         "--benchmark_format=json", "--benchmark_repetitions=5"],
        env=env, check=True, capture_output=True, text=True).stdout
    times = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("run_type") == "iteration":
            name = b["run_name"].replace("/process_time", "").replace("/real_time", "")
            wall, cpu = times.get(name, (float("inf"), float("inf")))
            times[name] = (min(wall, b["real_time"]), min(cpu, b["cpu_time"]))  # ms
    return times


def torch_ms(fn, repeats=20):
    """Best wall and best process-CPU milliseconds of one call."""
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t) * 1e3)
        cpu.append((time.process_time() - c) * 1e3)
    return min(wall), min(cpu)


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
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
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
    return {k: (min(w for w, _ in v), min(c for _, c in v)) for k, v in results.items()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("kiln_bench")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--backends", default="jit|interp")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    # The machine is shared: alternate kiln and torch, keep each one's best.
    best = lambda a, b: (min(a[0], b[0]), min(a[1], b[1]))
    none = (float("inf"), float("inf"))
    kiln, torch = {}, {}
    for _ in range(args.rounds):
        for k, v in kiln_times(args.kiln_bench, args.threads, args.backends).items():
            kiln[k] = best(kiln.get(k, none), v)
        try:
            for k, v in torch_times(args.threads).items():
                torch[k] = best(torch.get(k, none), v)
        except ImportError:
            sys.exit("PyTorch is not installed (apt-get install python3-torch)")
    print(f"{'benchmark':34s} {'kiln ms':>8s} {'torch ms':>8s} {'ratio':>6s}"
          f" {'kiln cpu':>8s} {'torch cpu':>9s} {'ratio':>6s}")
    for key, (ms, cpu) in sorted(torch.items()):
        name, phase = key.split("/")
        for backend in ("jit", "interp"):
            k = kiln.get(f"{name}/{backend}/{phase}")
            if k is not None:
                print(f"{name + '/' + backend + '/' + phase:34s} {k[0]:8.2f} {ms:8.2f}"
                      f" {k[0] / ms:6.2f} {k[1]:8.2f} {cpu:9.2f} {k[1] / cpu:6.2f}")


if __name__ == "__main__":
    main()
