#!/usr/bin/env python3
"""Writes the .npy/.npz fixtures of tests/layers/npy_test.cc with real numpy.

Run once by hand (Debian: apt-get install python3-numpy zip) from anywhere:
    /usr/bin/python3 tests/data/npy/make_npy_fixtures.py
The outputs are committed; CI needs neither numpy nor zip. The expected
values are repeated in npy_test.cc; change both together.
"""
import io
import os
import shutil
import subprocess
import tempfile
import zipfile

import numpy as np
from numpy.lib import format as npformat

OUT = os.path.dirname(os.path.abspath(__file__))


def path(name):
    return os.path.join(OUT, name)


def save(name, arr, version=None, allow_pickle=False):
    with open(path(name), "wb") as f:
        npformat.write_array(f, np.asanyarray(arr), version=version,
                             allow_pickle=allow_pickle)


class Unseekable(io.RawIOBase):
    """A write-only stream zipfile cannot seek: members get data descriptors."""

    def __init__(self, f):
        self.f = f

    def writable(self):
        return True

    def write(self, b):
        return self.f.write(b)


def weights():
    return {
        "dense_1/kernel": (np.arange(6, dtype=np.float32).reshape(3, 2) / 4
                           - 0.5),
        "dense_1/bias": np.array([0.25, -1.5], dtype=np.float32),
        "step": np.array(42, dtype=np.int64),
        "mask": np.array([True, False, True]),
        "ids": np.array([[7, -8]], dtype=np.int32),
        "empty": np.zeros((0, 4), dtype=np.float32),
    }


def main():
    # Supported dtypes, as written by numpy.save (format 1.0).
    save("f32.npy", np.arange(6, dtype=np.float32).reshape(2, 3) * 0.5 - 1)
    save("i32.npy", np.array([[1, -2], [3, 2**31 - 1], [-2**31, 0]], np.int32))
    save("i64.npy", np.array([2**40, -5, 7], dtype=np.int64))
    save("bool.npy", np.array([[True, False, True], [False, False, True]]))
    save("scalar_f32.npy", np.float32(3.5))
    save("scalar_i64.npy", np.array(-7, dtype=np.int64))
    save("empty_f32.npy", np.zeros((0, 3), dtype=np.float32))
    save("empty_i32.npy", np.array([], dtype=np.int32))
    # Converted on read.
    save("f64.npy", np.array([[0.1, -2.5], [1e300, 1e-50]], dtype=np.float64))
    save("u1.npy", np.array([0, 255, 7], dtype=np.uint8))
    save("i1.npy", np.array([-128, 127], dtype=np.int8))
    save("i2.npy", np.array([-32768, 32767], dtype=np.int16))
    save("u2.npy", np.array([65535, 1], dtype=np.uint16))
    save("u4.npy", np.array([4294967295, 3], dtype=np.uint32))
    # Other header versions.
    save("v2.npy", np.array([1.5, -2.0, 4.25], dtype=np.float32), version=(2, 0))
    save("v3.npy", np.array([[9, 8]], dtype=np.int64), version=(3, 0))
    # Rejected.
    save("big_endian.npy", np.array([1, 2], dtype=">f4"))
    save("fortran.npy", np.asfortranarray(np.ones((2, 3), np.float32)))
    save("object.npy", np.array([1, "a"], dtype=object), allow_pickle=True)
    save("u8.npy", np.array([1], dtype=np.uint64))
    save("f16.npy", np.array([1], dtype=np.float16))
    save("structured.npy", np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]))

    # Archives: numpy.savez (stored) and savez_compressed (deflated); numpy
    # forces zip64 extra fields in every local header.
    np.savez(path("savez.npz"), **weights())
    np.savez_compressed(path("savez_compressed.npz"), **weights())
    # Streamed (unseekable) writes: sizes and CRCs in data descriptors.
    with open(path("streamed.npz"), "wb") as f:
        with zipfile.ZipFile(Unseekable(f), "w", zipfile.ZIP_DEFLATED) as z:
            for key, val in weights().items():
                with z.open(key + ".npy", "w") as m:
                    npformat.write_array(m, val)
    # Info-ZIP with forced zip64 (central-directory zip64 extras and end
    # records), one member deflated and one stored.
    if shutil.which("zip"):
        with tempfile.TemporaryDirectory() as tmp:
            os.makedirs(os.path.join(tmp, "dense_1"))
            for key, val in weights().items():
                with open(os.path.join(tmp, key + ".npy"), "wb") as f:
                    npformat.write_array(f, val)
            target = path("infozip_zip64.npz")
            if os.path.exists(target):
                os.remove(target)
            subprocess.run(["zip", "-q", "-X", "-D", "-fz", "-n", "bias.npy",
                            target] + [k + ".npy" for k in weights()],
                           cwd=tmp, check=True)


if __name__ == "__main__":
    main()
