#!/usr/bin/env python3
"""Writes the `kiln eval` / `kiln summary` test fixtures of tests/tools/.

Standard library only (no numpy, no TensorFlow): the model configs are
written as tf.keras 2.x `model.to_json()` writes them, the arrays as numpy
.npy / .npz files, and the expected results are computed here by hand, in
plain double-precision Python, from the float32 values kiln reads. CI uses
the committed outputs and never runs this script.

  python3 tests/data/models/make_cli_fixtures.py   # from the repository root
"""
import io
import json
import math
import os
import struct
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
EXPECTED = os.path.join(HERE, "expected")


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def mat(rows):
    return [[f32(v) for v in r] for r in rows]


# ---- numpy file formats ------------------------------------------------------

def npy_bytes(values, shape):
    dims = ", ".join("%d" % d for d in shape) + ("," if len(shape) == 1 else "")
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % dims
    total = 10 + len(header) + 1
    header += " " * ((64 - total % 64) % 64) + "\n"
    return (b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") +
            struct.pack("<%df" % len(values), *values))


def flat(a):
    if isinstance(a, list):
        return [v for r in a for v in flat(r)]
    return [a]


def shape_of(a):
    return [len(a)] + shape_of(a[0]) if isinstance(a, list) else []


def write_npy(path, a):
    with open(path, "wb") as f:
        f.write(npy_bytes(flat(a), shape_of(a)))


def write_npz(path, entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for key, a in entries:
            z.writestr(key + ".npy", npy_bytes(flat(a), shape_of(a)))
    with open(path, "wb") as f:
        f.write(buf.getvalue())


def fmt_expected(key, a):
    shape = shape_of(a)
    return "%s f32[%s] %s\n" % (key, ",".join(str(d) for d in shape),
                                " ".join("%.9g" % v for v in flat(a)))


def write_expected(name, entries):
    os.makedirs(EXPECTED, exist_ok=True)
    with open(os.path.join(EXPECTED, name + ".txt"), "w") as f:
        for key, a in entries:
            f.write(fmt_expected(key, a))


# ---- a little linear algebra ---------------------------------------------------

def matmul(a, b):
    return [[sum(a[i][k] * b[k][j] for k in range(len(b))) for j in range(len(b[0]))]
            for i in range(len(a))]


def transpose(a):
    return [list(r) for r in zip(*a)]


def add_row(a, v):
    return [[x + y for x, y in zip(r, v)] for r in a]


def ew(f, *arrays):
    return [[f(*vals) for vals in zip(*rows)] for rows in zip(*arrays)]


def col_sums(a):
    return [sum(r[j] for r in a) for j in range(len(a[0]))]


def sign(x):
    return (x > 0) - (x < 0)


# ---- Keras JSON ------------------------------------------------------------------

def dense_config(name, units, activation, kernel_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None):
    return {"name": name, "trainable": True, "dtype": "float32", "units": units,
            "activation": activation, "use_bias": True,
            "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
            "bias_initializer": {"class_name": "Zeros", "config": {}},
            "kernel_regularizer": kernel_regularizer, "bias_regularizer": None,
            "activity_regularizer": activity_regularizer,
            "kernel_constraint": kernel_constraint, "bias_constraint": bias_constraint}


def input_config(name, dims):
    return {"batch_input_shape": [None] + dims, "dtype": "float32", "sparse": False,
            "ragged": False, "name": name}


def write_json(name, model):
    with open(os.path.join(HERE, name + ".json"), "w") as f:
        json.dump(model, f)


L2 = f32(0.1)    # tf.keras stores penalty factors as float32
L1 = f32(0.05)
LR = 0.1


def mlp_reg():
    """Sequential: Dense(2, relu, L2 kernel, MaxNorm kernel, NonNeg bias) ->
    Dense(2, linear, L1 activity)."""
    write_json("mlp_reg", {
        "class_name": "Sequential",
        "config": {"name": "mlp_reg", "layers": [
            {"class_name": "InputLayer", "config": input_config("x", [3])},
            {"class_name": "Dense", "config": dense_config(
                "hidden", 2, "relu",
                kernel_regularizer={"class_name": "L2", "config": {"l2": L2}},
                kernel_constraint={"class_name": "MaxNorm",
                                   "config": {"max_value": 0.5, "axis": 0}},
                bias_constraint={"class_name": "NonNeg", "config": {}})},
            {"class_name": "Dense", "config": dense_config(
                "out", 2, "linear",
                activity_regularizer={"class_name": "L1", "config": {"l1": L1}})}]},
        "keras_version": "2.12.0", "backend": "tensorflow"})
    w1 = mat([[0.5, -0.3], [0.2, 0.8], [-0.6, 0.1]])
    b1 = [f32(0.1), f32(0.05)]
    w2 = mat([[1.0, -0.5], [0.3, 0.7]])
    b2 = [f32(0.05), f32(-0.1)]
    x = mat([[1.0, 2.0, 0.5], [-1.0, 0.5, 2.0]])
    r = mat([[1.0, -2.0], [0.5, 1.5]])
    write_npz(os.path.join(HERE, "mlp_reg_weights.npz"),
              [("hidden/kernel", w1), ("hidden/bias", b1), ("out/kernel", w2), ("out/bias", b2)])
    write_npy(os.path.join(HERE, "mlp_reg_x.npy"), x)
    write_npy(os.path.join(HERE, "mlp_reg_r.npy"), r)

    batch = len(x)
    z = add_row(matmul(x, w1), b1)
    h = ew(lambda v: max(v, 0.0), z)
    y = add_row(matmul(h, w2), b2)
    reg = L2 * sum(v * v for v in flat(w1)) + L1 * sum(abs(v) for v in flat(y)) / batch
    dy = ew(lambda rv, yv: rv + L1 / batch * sign(yv), r, y)
    dw2 = matmul(transpose(h), dy)
    db2 = col_sums(dy)
    dh = matmul(dy, transpose(w2))
    dz = ew(lambda g, zv: g if zv > 0 else 0.0, dh, z)
    dw1 = ew(lambda g, w: g + 2 * L2 * w, matmul(transpose(x), dz), w1)
    db1 = col_sums(dz)
    dx = matmul(dz, transpose(w1))

    def max_norm(w, max_value):  # axis 0: one norm per column
        norms = [math.sqrt(sum(w[i][j] ** 2 for i in range(len(w)))) for j in range(len(w[0]))]
        return [[w[i][j] * min(norms[j], max_value) / (1e-7 + norms[j])
                 for j in range(len(w[0]))] for i in range(len(w))]

    w1_new = max_norm(ew(lambda w, g: w - LR * g, w1, dw1), 0.5)
    b1_new = [max(b - LR * g, 0.0) for b, g in zip(b1, db1)]
    w2_new = ew(lambda w, g: w - LR * g, w2, dw2)
    b2_new = [b - LR * g for b, g in zip(b2, db2)]
    write_expected("mlp_reg_forward", [("output", y), ("reg_loss", reg)])
    write_expected("mlp_reg_grad", [
        ("output", y), ("grad/input", dx), ("grad/hidden/kernel", dw1), ("grad/hidden/bias", db1),
        ("grad/out/kernel", dw2), ("grad/out/bias", db2), ("reg_loss", reg),
        ("updated/hidden/kernel", w1_new), ("updated/hidden/bias", b1_new),
        ("updated/out/kernel", w2_new), ("updated/out/bias", b2_new)])

    # Bad weight files: one weight missing, one with the wrong shape.
    write_npz(os.path.join(HERE, "mlp_reg_missing.npz"),
              [("hidden/kernel", w1), ("hidden/bias", b1), ("out/kernel", w2)])
    write_npz(os.path.join(HERE, "mlp_reg_misshaped.npz"),
              [("hidden/kernel", transpose(w1)), ("hidden/bias", b1), ("out/kernel", w2),
               ("out/bias", b2)])


def shared_two_io():
    """Functional: a shared Dense(2, tanh) on inputs a and b; outputs the
    call on a, and Dense(1) of the Add of both calls."""
    shared = {"class_name": "Dense", "config": dense_config("shared", 2, "tanh"),
              "name": "shared",
              "inbound_nodes": [[["a", 0, 0, {}]], [["b", 0, 0, {}]]]}
    write_json("shared_two_io", {
        "class_name": "Functional",
        "config": {"name": "shared_two_io", "trainable": True, "layers": [
            {"class_name": "InputLayer", "config": input_config("a", [2]), "name": "a",
             "inbound_nodes": []},
            {"class_name": "InputLayer", "config": input_config("b", [2]), "name": "b",
             "inbound_nodes": []},
            shared,
            {"class_name": "Add", "config": {"name": "sum", "trainable": True,
                                             "dtype": "float32"},
             "name": "sum", "inbound_nodes": [[["shared", 0, 0, {}], ["shared", 1, 0, {}]]]},
            {"class_name": "Dense", "config": dense_config("head", 1, "linear"), "name": "head",
             "inbound_nodes": [[["sum", 0, 0, {}]]]}],
            "input_layers": [["a", 0, 0], ["b", 0, 0]],
            "output_layers": [["shared", 0, 0], ["head", 0, 0]]},
        "keras_version": "2.12.0", "backend": "tensorflow"})
    ws = mat([[0.4, -0.7], [0.9, 0.2]])
    bs = [f32(0.1), f32(0.3)]
    wh = mat([[1.5], [-0.8]])
    bh = [f32(0.25)]
    a = mat([[0.3, -1.2], [2.0, 0.4], [-0.5, 0.9]])
    b = mat([[1.1, 0.6], [-0.2, -1.5], [0.7, 0.0]])
    r1 = mat([[1.0, 0.5], [-1.0, 2.0], [0.25, -0.75]])
    r2 = mat([[2.0], [-0.5], [1.0]])
    write_npz(os.path.join(HERE, "shared_two_io_weights.npz"),
              [("shared/kernel", ws), ("shared/bias", bs), ("head/kernel", wh),
               ("head/bias", bh)])
    for name, v in (("a", a), ("b", b), ("r1", r1), ("r2", r2)):
        write_npy(os.path.join(HERE, "shared_two_io_%s.npy" % name), v)

    sa = ew(math.tanh, add_row(matmul(a, ws), bs))
    sb = ew(math.tanh, add_row(matmul(b, ws), bs))
    s = ew(lambda p, q: p + q, sa, sb)
    out2 = add_row(matmul(s, wh), bh)
    ds = matmul(r2, transpose(wh))
    dwh = matmul(transpose(s), r2)
    dbh = col_sums(r2)
    dsa = ew(lambda p, q: p + q, r1, ds)
    dza = ew(lambda g, t: g * (1 - t * t), dsa, sa)
    dzb = ew(lambda g, t: g * (1 - t * t), ds, sb)
    dws = ew(lambda p, q: p + q, matmul(transpose(a), dza), matmul(transpose(b), dzb))
    dbs = [p + q for p, q in zip(col_sums(dza), col_sums(dzb))]
    write_expected("shared_two_io_grad", [
        ("output/0", sa), ("output/1", out2),
        ("grad/input/0", matmul(dza, transpose(ws))), ("grad/input/1", matmul(dzb, transpose(ws))),
        ("grad/shared/kernel", dws), ("grad/shared/bias", dbs),
        ("grad/head/kernel", dwh), ("grad/head/bias", dbh)])


def dropout():
    """Sequential: an identity Dense(8), then Dropout(0.5, seed=3). Inference
    returns x; training keeps each value as 2x or drops it to 0."""
    write_json("dropout", {
        "class_name": "Sequential",
        "config": {"name": "dropout", "layers": [
            {"class_name": "InputLayer", "config": input_config("x", [8])},
            {"class_name": "Dense", "config": dense_config("identity", 8, "linear")},
            {"class_name": "Dropout", "config": {"name": "drop", "trainable": True,
                                                 "dtype": "float32", "rate": 0.5,
                                                 "noise_shape": None, "seed": 3}}]},
        "keras_version": "2.12.0", "backend": "tensorflow"})
    eye = [[1.0 if i == j else 0.0 for j in range(8)] for i in range(8)]
    write_npz(os.path.join(HERE, "dropout_weights.npz"),
              [("identity/kernel", eye), ("identity/bias", [0.0] * 8)])
    x = mat([[0.5 + i + 8 * r for i in range(8)] for r in range(4)])
    write_npy(os.path.join(HERE, "dropout_x.npy"), x)
    write_expected("dropout_forward", [("output", x)])


if __name__ == "__main__":
    mlp_reg()
    shared_two_io()
    dropout()
