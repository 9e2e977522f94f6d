#!/usr/bin/env python3
"""kiln's JIT GEMM beside torch.matmul, M = N = K = 1024, f32, same threads.

Runs kiln_bench's BM_Gemm/jit/1024 and BM_Gemm/interp/1024 and times
torch.matmul on the same shape (torch.set_num_threads(THREADS)), alternating
the two so that both see the same machine load, and prints medians, GFLOP/s,
the share of the FMA peak kiln measured and the time ratio kiln / torch.
torch comes from Debian's python3-torch (PyTorch 1.13), whose matmul calls the
system BLAS: install libopenblas0-pthread too, or it times the reference BLAS.
When torch is missing only kiln's numbers are printed.

  bench/compare_gemm.py build/bench/kiln_bench [--threads 2] [--rounds 5]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

N = 1024
FLOPS = 2.0 * N * N * N


def import_torch():
    try:
        import torch  # noqa: F401
        return torch
    except ImportError:
        # Debian installs torch for the system python only.
        system = "/usr/bin/python3"
        if os.path.realpath(sys.executable) != os.path.realpath(system) and os.path.exists(system) \
                and not os.environ.get("KILN_COMPARE_REEXEC"):
            os.environ["KILN_COMPARE_REEXEC"] = "1"
            os.execv(system, [system] + sys.argv)
        return None


def kiln_round(bench, threads):
    env = dict(os.environ, KILN_NUM_THREADS=str(threads))
    out = subprocess.run(
        [bench, "--benchmark_filter=^BM_Gemm/", "--benchmark_format=json",
         "--benchmark_min_time=0.5"],
        env=env, check=True, capture_output=True, text=True).stdout
    rows = {}
    for b in json.loads(out)["benchmarks"]:
        rows[b["name"].split("/real_time")[0]] = (b["real_time"], b.get("peak_GFLOP/s", 0.0))
    return rows


def torch_round(torch, seconds=0.5):
    a = torch.rand(N, N) * 2 - 1
    b = torch.rand(N, N) * 2 - 1
    c = torch.matmul(a, b)  # warm up
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 5:
        t = time.perf_counter()
        torch.matmul(a, b, out=c)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bench", nargs="?", default="build/bench/kiln_bench")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    # Debian's torch calls the system BLAS (OpenBLAS when installed), whose
    # own thread pool torch.set_num_threads does not reach.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
    torch = import_torch()
    if torch is not None:
        torch.set_num_threads(args.threads)
    kiln = {}
    peaks = []
    torch_ms = []
    for _ in range(args.rounds):
        for name, (ms, peak) in kiln_round(args.bench, args.threads).items():
            kiln.setdefault(name, []).append(ms)
            peaks.append(peak)
        if torch is not None:
            torch_ms.append(torch_round(torch))
    # Another process on a core lowers a measurement, never raises it.
    peak = max(peaks) if peaks else 0.0
    print(f"M=N=K={N}, f32, {args.threads} threads, medians of {args.rounds} rounds; "
          f"measured FMA peak {peak:.0f} GFLOP/s")
    rows = [(name, statistics.median(ms)) for name, ms in sorted(kiln.items())]
    if torch_ms:
        rows.append((f"torch.matmul {torch.__version__}", statistics.median(torch_ms)))
    for name, ms in rows:
        gflops = FLOPS / ms / 1e6
        share = f"{100 * gflops / peak:5.1f}% of peak" if peak else ""
        print(f"  {name:28s} {ms:8.2f} ms  {gflops:7.1f} GFLOP/s  {share}")
    if torch_ms and "BM_Gemm/jit/1024" in kiln:
        ratio = statistics.median(kiln["BM_Gemm/jit/1024"]) / statistics.median(torch_ms)
        print(f"  kiln jit / torch time: {ratio:.2f}x ({1 / ratio:.2f}x the speed)")
    elif not torch_ms:
        print("  torch not found (apt-get install python3-torch): no comparison")


if __name__ == "__main__":
    main()
