#!/usr/bin/python3
"""Writes the `kiln eval` reference corpus of tests/tools/reference_test.cc.

An independent implementation of the layer semantics of
../shared/spec/keras-layers.md in PyTorch (float64) and numpy, run once: the
outputs are committed and CI never runs this script (it needs neither torch
nor numpy). For each case, tests/data/reference/<case>/ holds

  model.json    the tf.keras 2.x `model.to_json()` text (written by hand here)
  weights.npz   the weights, keys `<layer>/<weight>` in Keras layouts (float32)
  x<i>.npy      the inputs (float32)
  r<i>.npy      one cotangent R per output (float32)
  expected.npz  what `kiln eval ... --cotangent r<i>.npy --sgd-step 0.125`
                must write: output(s), grad/input(s), grad/<layer>/<weight>,
                reg_loss (when the model has a regularizer) and
                updated/<layer>/<weight> = constraint(w - 0.125 dL/dw), for
                L = sum(output * R) + every regularization loss.

and cases.txt lists `<case> <number of inputs> <number of outputs>`.
Everything is computed from the float32 values kiln reads, in float64.
Dropout layers run in inference mode only (kiln's masks are its own RNG).

  /usr/bin/python3 tests/data/reference/make_reference.py   # Debian python3-torch, python3-numpy
"""
import json
import math
import os
import shutil

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
LR = 0.125
EPS = 1e-7  # Keras backend epsilon (constraints)
DT = torch.float64


# ---- regularizers and constraints (spec 4, 5) --------------------------------

def l1(v):
    return {"class_name": "L1", "config": {"l1": v}}


def l2(v):
    return {"class_name": "L2", "config": {"l2": v}}


def l1l2(a, b):
    return {"class_name": "L1L2", "config": {"l1": a, "l2": b}}


def reg_value(spec, w):
    c = spec["config"]
    a = c.get("l1", 0.0) if spec["class_name"] in ("L1", "L1L2") else 0.0
    b = c.get("l2", 0.0) if spec["class_name"] in ("L2", "L1L2") else 0.0
    return a * w.abs().sum() + b * (w * w).sum()


def max_norm(m, axis=0):
    return {"class_name": "MaxNorm", "config": {"max_value": m, "axis": axis}}


def non_neg():
    return {"class_name": "NonNeg", "config": {}}


def unit_norm(axis=0):
    return {"class_name": "UnitNorm", "config": {"axis": axis}}


def min_max_norm(lo, hi, rate, axis=0):
    return {"class_name": "MinMaxNorm",
            "config": {"min_value": lo, "max_value": hi, "rate": rate, "axis": axis}}


def apply_constraint(spec, w):
    name, c = spec["class_name"], spec["config"]
    if name == "NonNeg":
        return w * (w >= 0).to(DT)
    axis = c["axis"]
    axes = [axis] if isinstance(axis, int) else list(axis)
    norm = torch.sqrt((w * w).sum(dim=axes, keepdim=True))
    if name == "MaxNorm":
        return w * torch.clamp(norm, 0, c["max_value"]) / (EPS + norm)
    if name == "UnitNorm":
        return w / (EPS + norm)
    if name == "MinMaxNorm":
        desired = (c["rate"] * torch.clamp(norm, c["min_value"], c["max_value"]) +
                   (1 - c["rate"]) * norm)
        return w * desired / (EPS + norm)
    raise ValueError(name)


# ---- activations (spec 6) -------------------------------------------------------

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

ACTIVATIONS = {
    "linear": lambda x: x,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "softmax": lambda x: torch.softmax(x, -1),
    "softplus": F.softplus,
    "softsign": lambda x: x / (1 + x.abs()),
    "elu": lambda x: torch.where(x > 0, x, torch.expm1(x)),
    "selu": lambda x: SELU_SCALE * torch.where(x > 0, x, SELU_ALPHA * torch.expm1(x)),
    "exponential": torch.exp,
    "hard_sigmoid": lambda x: torch.clamp(0.2 * x + 0.5, 0, 1),
    "swish": lambda x: x * torch.sigmoid(x),
    "silu": lambda x: x * torch.sigmoid(x),
    "gelu": lambda x: 0.5 * x * (1 + torch.erf(x / math.sqrt(2))),
    "relu6": lambda x: torch.clamp(x, 0, 6),
    "leaky_relu": lambda x: torch.where(x > 0, x, 0.2 * x),
    "log_softmax": lambda x: torch.log_softmax(x, -1),
    "mish": lambda x: x * torch.tanh(F.softplus(x)),
}


# ---- the model builder: Keras JSON and the torch computation side by side -------

class T:
    """A layer output: its value (float64), its Keras mask and its
    [layer, node_index, tensor_index] reference."""

    def __init__(self, value, mask, ref):
        self.v, self.mask, self.ref = value, mask, ref


class Layer:
    def __init__(self, case, cls, name, config, fn, masking="drop", mask_fn=None,
                 activity=None):
        self.case, self.cls, self.name, self.fn = case, cls, name, fn
        self.config = dict({"name": name, "trainable": True, "dtype": "float32"}, **config)
        self.masking, self.mask_fn, self.activity = masking, mask_fn, activity
        self.nodes, self.w = [], {}
        case.layers.append(self)

    def weight(self, wname, shape, reg=None, constraint=None, scale=0.5, offset=0.0):
        """The layer's weight `wname` (created on the first call)."""
        if wname not in self.w:
            v = (self.case.rng.normal(0.0, scale, shape) + offset).astype(np.float32)
            key = "%s/%s" % (self.name, wname)
            t = torch.tensor(v, dtype=DT, requires_grad=True)
            self.case.weights.append((key, v, t, constraint, self.config["trainable"]))
            if reg is not None:
                self.case.weight_regs.append((reg, t))
            self.w[wname] = t
        return self.w[wname]

    def __call__(self, inputs):
        xs = inputs if isinstance(inputs, list) else [inputs]
        y = self.fn(self, [x.v for x in xs], [x.mask for x in xs])
        if self.mask_fn is not None:
            mask = self.mask_fn([x.v for x in xs], [x.mask for x in xs])
        elif self.masking == "pass":
            mask = xs[0].mask
        else:
            mask = None
        if self.activity is not None:
            self.case.activity_losses.append(reg_value(self.activity, y) / y.shape[0])
        self.nodes.append([[x.ref[0], x.ref[1], x.ref[2], {}] for x in xs])
        if self not in self.case.called:
            self.case.called.append(self)
        return T(y, mask, [self.name, len(self.nodes) - 1, 0])


class Case:
    def __init__(self, name, seed):
        self.name = name
        self.rng = np.random.default_rng(seed)
        self.layers, self.inputs = [], []
        self.called = []  # the layers in the order of their first call
        self.weights, self.weight_regs, self.activity_losses = [], [], []

    def input(self, name, shape, values=None):
        """An Input of `shape` (batch included); random values unless given."""
        v = values if values is not None else self.rng.normal(0.0, 1.0, shape)
        v = np.asarray(v, dtype=np.float32)
        t = torch.tensor(v, dtype=DT, requires_grad=True)
        layer = Layer(self, "InputLayer", name, {}, None)
        layer.config = {"batch_input_shape": [None] + list(shape[1:]), "dtype": "float32",
                        "sparse": False, "ragged": False, "name": name}
        self.inputs.append((name, v, t))
        return T(t, None, [name, 0, 0])

    def has_reg(self):
        return any(l.activity is not None or l.cls == "ActivityRegularization"
                   for l in self.layers) or bool(self.weight_regs)

    def save(self, outputs, sequential=False):
        outs = outputs if isinstance(outputs, list) else [outputs]
        # Keras lists layers in the order they were first called.
        self.layers = [l for l in self.layers if l.cls == "InputLayer"] + self.called
        d = os.path.join(HERE, self.name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        if sequential:
            layers = [{"class_name": l.cls, "config": l.config} for l in self.layers]
            if sequential == "no_input_layer":  # the shape on the first layer
                shape = layers.pop(0)["config"]["batch_input_shape"]
                layers[0]["config"] = dict(layers[0]["config"], batch_input_shape=shape)
            model = {"class_name": "Sequential",
                     "config": {"name": self.name, "layers": layers}}
        else:
            layers = [{"class_name": l.cls, "config": l.config, "name": l.name,
                       "inbound_nodes": l.nodes} for l in self.layers]
            model = {"class_name": "Functional", "config": {
                "name": self.name, "trainable": True, "layers": layers,
                "input_layers": [[n, 0, 0] for n, _, _ in self.inputs],
                "output_layers": [o.ref for o in outs]}}
        model["keras_version"] = "2.12.0"
        model["backend"] = "tensorflow"
        with open(os.path.join(d, "model.json"), "w") as f:
            json.dump(model, f)
        np.savez(os.path.join(d, "weights.npz"), **{k: v for k, v, _, _, _ in self.weights})
        trainable = [w for w in self.weights if w[4]]
        for i, (_, v, _) in enumerate(self.inputs):
            np.save(os.path.join(d, "x%d.npy" % i), v)

        expected = {}
        several = len(outs) > 1
        loss = torch.zeros((), dtype=DT)
        for i, o in enumerate(outs):
            r = self.rng.normal(0.0, 1.0, tuple(o.v.shape)).astype(np.float32)
            np.save(os.path.join(d, "r%d.npy" % i), r)
            loss = loss + (o.v * torch.tensor(r, dtype=DT)).sum()
            expected["output/%d" % i if several else "output"] = o.v
        reg = torch.zeros((), dtype=DT)
        for spec, t in self.weight_regs:
            reg = reg + reg_value(spec, t)
        for a in self.activity_losses:
            reg = reg + a
        loss = loss + reg
        wrt = [t for _, _, t in self.inputs] + [t for _, _, t, _, _ in trainable]
        grads = torch.autograd.grad(loss, wrt, allow_unused=True)
        grads = [g if g is not None else torch.zeros_like(t) for g, t in zip(grads, wrt)]
        n_in = len(self.inputs)
        for i in range(n_in):
            expected["grad/input/%d" % i if n_in > 1 else "grad/input"] = grads[i]
        for (key, _, t, constraint, _), g in zip(trainable, grads[n_in:]):
            expected["grad/" + key] = g
            u = t.detach() - LR * g
            if constraint is not None:
                u = apply_constraint(constraint, u)
            expected["updated/" + key] = u
        if self.has_reg():
            expected["reg_loss"] = reg
        np.savez(os.path.join(d, "expected.npz"),
                 **{k: np.array(v.detach().numpy(), dtype=np.float32, order="C")
                    for k, v in expected.items()})
        CASES.append((self.name, n_in, len(outs)))


CASES = []


# ---- layers (spec 2) --------------------------------------------------------------

def act_of(name):
    return ACTIVATIONS[name or "linear"]


def base_weighted(activation, use_bias, kernel_names, regs, cons, activity):
    """The tail of a weighted layer's config."""
    c = {}
    for k in kernel_names:
        c[k + "_initializer"] = {"class_name": "GlorotUniform", "config": {"seed": None}}
    c["bias_initializer"] = {"class_name": "Zeros", "config": {}}
    for k in kernel_names + ["bias"]:
        c[k + "_regularizer"] = regs.get(k)
    c["activity_regularizer"] = activity
    for k in kernel_names + ["bias"]:
        c[k + "_constraint"] = cons.get(k)
    c["activation"] = activation
    c["use_bias"] = use_bias
    return c


def dense(case, name, units, activation="linear", use_bias=True, regs=None, cons=None,
          activity=None):
    regs, cons = regs or {}, cons or {}
    config = {"units": units}
    config.update(base_weighted(activation, use_bias, ["kernel"], regs, cons, activity))

    def fn(layer, xs, masks):
        x = xs[0]
        k = layer.weight("kernel", (x.shape[-1], units), regs.get("kernel"), cons.get("kernel"))
        y = torch.tensordot(x, k, dims=([x.dim() - 1], [0]))
        if use_bias:
            y = y + layer.weight("bias", (units,), regs.get("bias"), cons.get("bias"))
        return act_of(activation)(y)
    return Layer(case, "Dense", name, config, fn, masking="pass", activity=activity)


def same_pads(n, k, s, d, padding):
    k_eff = (k - 1) * d + 1
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return d * (k - 1), 0
    out = (n + s - 1) // s
    total = max(0, (out - 1) * s + k_eff - n)
    return total // 2, total - total // 2


def to_cf(x, rank, df):
    return x if df == "channels_first" else torch.movedim(x, -1, 1)


def from_cf(y, rank, df):
    return y if df == "channels_first" else torch.movedim(y, 1, -1)


def pad_spatial(x, k, s, d, padding, value=0.0):
    """x channels-first; pads every spatial axis per spec 1.5."""
    rank = len(k)
    pads = []
    for a in reversed(range(rank)):
        pads += list(same_pads(x.shape[2 + a], k[a], s[a], d[a], padding))
    return F.pad(x, pads, value=value)


def conv_core(x, w_torch, k, s, d, padding, groups=1):
    x = pad_spatial(x, k, s, d, padding)
    conv = F.conv1d if len(k) == 1 else F.conv2d
    return conv(x, w_torch, stride=s, dilation=d, groups=groups)


def add_bias_cf(y, b):
    return y + b.reshape((1, -1) + (1,) * (y.dim() - 2))


def conv(case, name, rank, filters, kernel_size, strides=None, padding="valid",
         data_format="channels_last", dilation_rate=None, groups=1, activation="linear",
         use_bias=True, regs=None, cons=None, activity=None):
    regs, cons = regs or {}, cons or {}
    strides = strides or [1] * rank
    dilation_rate = dilation_rate or [1] * rank
    config = {"filters": filters, "kernel_size": kernel_size, "strides": strides,
              "padding": padding, "data_format": data_format,
              "dilation_rate": dilation_rate, "groups": groups}
    config.update(base_weighted(activation, use_bias, ["kernel"], regs, cons, activity))

    def fn(layer, xs, masks):
        x = to_cf(xs[0], rank, data_format)
        cin = x.shape[1]
        kern = layer.weight("kernel", tuple(kernel_size) + (cin // groups, filters),
                            regs.get("kernel"), cons.get("kernel"))
        w = kern.permute(rank + 1, rank, *range(rank))
        y = conv_core(x, w, kernel_size, strides, dilation_rate, padding, groups)
        if use_bias:
            y = add_bias_cf(y, layer.weight("bias", (filters,), regs.get("bias"),
                                            cons.get("bias")))
        return act_of(activation)(from_cf(y, rank, data_format))
    return Layer(case, "Conv%dD" % rank, name, config, fn, activity=activity)


def depthwise_stage(layer, x, kernel_size, strides, padding, dilation_rate, m, reg, con):
    cin = x.shape[1]
    dk = layer.weight("depthwise_kernel", tuple(kernel_size) + (cin, m), reg, con)
    w = dk.permute(2, 3, 0, 1).reshape(cin * m, 1, *kernel_size)
    return conv_core(x, w, kernel_size, strides, dilation_rate, padding, groups=cin)


def depthwise(case, name, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1,
              data_format="channels_last", dilation_rate=(1, 1), activation="linear",
              use_bias=True, regs=None, cons=None, activity=None):
    regs, cons = regs or {}, cons or {}
    config = {"kernel_size": list(kernel_size), "strides": list(strides), "padding": padding,
              "data_format": data_format, "dilation_rate": list(dilation_rate), "groups": 1}
    config.update(base_weighted(activation, use_bias, ["depthwise"], regs, cons, activity))
    config["depth_multiplier"] = depth_multiplier

    def fn(layer, xs, masks):
        x = to_cf(xs[0], 2, data_format)
        y = depthwise_stage(layer, x, kernel_size, strides, padding, dilation_rate,
                            depth_multiplier, regs.get("depthwise"), cons.get("depthwise"))
        if use_bias:
            y = add_bias_cf(y, layer.weight("bias", (y.shape[1],), regs.get("bias"),
                                            cons.get("bias")))
        return act_of(activation)(from_cf(y, 2, data_format))
    return Layer(case, "DepthwiseConv2D", name, config, fn, activity=activity)


def separable(case, name, filters, kernel_size, strides=(1, 1), padding="valid",
              data_format="channels_last", dilation_rate=(1, 1), depth_multiplier=1,
              activation="linear", use_bias=True, regs=None, cons=None, activity=None):
    regs, cons = regs or {}, cons or {}
    config = {"filters": filters, "kernel_size": list(kernel_size), "strides": list(strides),
              "padding": padding, "data_format": data_format,
              "dilation_rate": list(dilation_rate), "groups": 1,
              "depth_multiplier": depth_multiplier}
    config.update(base_weighted(activation, use_bias, ["depthwise", "pointwise"], regs, cons,
                                activity))

    def fn(layer, xs, masks):
        x = to_cf(xs[0], 2, data_format)
        d = depthwise_stage(layer, x, kernel_size, strides, padding, dilation_rate,
                            depth_multiplier, regs.get("depthwise"), cons.get("depthwise"))
        pk = layer.weight("pointwise_kernel", (1, 1, d.shape[1], filters),
                          regs.get("pointwise"), cons.get("pointwise"))
        y = F.conv2d(d, pk.permute(3, 2, 0, 1))
        if use_bias:
            y = add_bias_cf(y, layer.weight("bias", (filters,), regs.get("bias"),
                                            cons.get("bias")))
        return act_of(activation)(from_cf(y, 2, data_format))
    return Layer(case, "SeparableConv2D", name, config, fn, activity=activity)


def max_pool(case, name, rank, pool_size, strides=None, padding="valid",
             data_format="channels_last"):
    config = {"pool_size": pool_size, "padding": padding, "strides": strides,
              "data_format": data_format}
    s = strides or pool_size

    def fn(layer, xs, masks):
        x = pad_spatial(to_cf(xs[0], rank, data_format), pool_size, s, [1] * rank, padding,
                        value=-math.inf)
        pool = F.max_pool1d if rank == 1 else F.max_pool2d
        return from_cf(pool(x, pool_size, s), rank, data_format)
    return Layer(case, "MaxPooling%dD" % rank, name, config, fn)


def lc_window(n, k, s, padding, o):
    """tf.keras conv_connected_inputs for one axis."""
    left, right = k // 2, k - k // 2
    center = o * s + (left if padding == "valid" else 0)
    return range(max(0, center - left), min(n, center + right))


def lc_out_len(n, k, s, padding):
    return (n - k) // s + 1 if padding == "valid" else (n + s - 1) // s


def locally_connected(case, name, rank, filters, kernel_size, strides=None, padding="valid",
                      data_format="channels_last", activation="linear", use_bias=True,
                      implementation=1, regs=None, cons=None, activity=None):
    regs, cons = regs or {}, cons or {}
    strides = strides or [1] * rank
    config = {"filters": filters, "kernel_size": kernel_size, "strides": strides,
              "padding": padding, "data_format": data_format}
    config.update(base_weighted(activation, use_bias, ["kernel"], regs, cons, activity))
    config["implementation"] = implementation
    cl = data_format == "channels_last"

    def fn(layer, xs, masks):
        x = xs[0]
        b = x.shape[0]
        xc = to_cf(x, rank, data_format)  # (B, C, spatial...)
        cin, n = xc.shape[1], list(xc.shape[2:])
        out = [lc_out_len(n[a], kernel_size[a], strides[a], padding) for a in range(rank)]
        positions = [tuple(p) for p in np.ndindex(*out)]
        windows = [[lc_window(n[a], kernel_size[a], strides[a], padding, p[a])
                    for a in range(rank)] for p in positions]
        if implementation == 1:
            taps = int(np.prod(kernel_size))
            kern = layer.weight("kernel", (len(positions), taps * cin, filters),
                                regs.get("kernel"), cons.get("kernel"))
            cols = []
            for win in windows:
                idx = (slice(None), slice(None)) + tuple(slice(w.start, w.stop) for w in win)
                patch = xc[idx]  # (B, C, k...)
                if cl:  # feature index (taps..., c)
                    patch = torch.movedim(patch, 1, -1)
                cols.append(patch.reshape(b, -1))
            y = torch.einsum("bpt,ptf->bpf", torch.stack(cols, 1), kern)  # (B, P, F)
            y = y.reshape([b] + out + [filters])
            y = y if cl else torch.movedim(y, -1, 1)
        else:
            in_dims = (n + [cin]) if cl else ([cin] + n)
            out_dims = (out + [filters]) if cl else ([filters] + out)
            dense_mask = np.zeros((int(np.prod(in_dims)), int(np.prod(out_dims))))
            idxs = []
            for p, win in zip(positions, windows):
                for q in np.ndindex(*[len(w) for w in win]):
                    ip = tuple(win[a][q[a]] for a in range(rank))
                    for ci in range(cin):
                        for fo in range(filters):
                            i_idx = np.ravel_multi_index(ip + (ci,) if cl else (ci,) + ip,
                                                         in_dims)
                            o_idx = np.ravel_multi_index(p + (fo,) if cl else (fo,) + p,
                                                         out_dims)
                            dense_mask[i_idx, o_idx] = 1
                            idxs.append((o_idx, i_idx))
            x_flat = x.reshape(b, -1)  # the layer's own data format
            if implementation == 2:
                kern = layer.weight("kernel", tuple(in_dims + out_dims), regs.get("kernel"),
                                    cons.get("kernel"))
                mask = torch.tensor(dense_mask, dtype=DT).reshape(in_dims + out_dims)
                mat = (kern * mask).reshape(dense_mask.shape)
            else:
                idxs.sort()
                kern = layer.weight("kernel", (len(idxs),), regs.get("kernel"),
                                    cons.get("kernel"))
                rows = torch.tensor([i for _, i in idxs])
                cols_ = torch.tensor([o for o, _ in idxs])
                mat = torch.zeros(dense_mask.shape, dtype=DT).index_put((rows, cols_), kern)
            y = (x_flat @ mat).reshape([b] + out_dims)
        if use_bias:
            bias = layer.weight("bias", tuple(out) + (filters,), regs.get("bias"),
                                cons.get("bias"))
            # channels_first: tf.keras reshapes (not transposes) the bias.
            y = y + (bias if cl else bias.reshape([filters] + out))
        return act_of(activation)(y)
    return Layer(case, "LocallyConnected%dD" % rank, name, config, fn, activity=activity)


def simple(case, cls, name, config, f, masking="drop", activity=None):
    return Layer(case, cls, name, config, lambda layer, xs, masks: f(xs[0]), masking,
                 activity=activity)


def activation(case, name, act):
    return simple(case, "Activation", name, {"activation": act}, act_of(act), "pass")


def flatten(case, name, data_format="channels_last"):
    def f(x):
        if data_format == "channels_first" and x.dim() >= 3:
            x = torch.movedim(x, 1, -1)
        return x.reshape(x.shape[0], -1)
    return simple(case, "Flatten", name, {"data_format": data_format}, f)


def reshape(case, name, target):
    return simple(case, "Reshape", name, {"target_shape": target},
                  lambda x: x.reshape([x.shape[0]] + target))


def permute(case, name, dims):
    return simple(case, "Permute", name, {"dims": dims}, lambda x: x.permute(0, *dims))


def repeat_vector(case, name, n):
    return simple(case, "RepeatVector", name, {"n": n},
                  lambda x: x.unsqueeze(1).expand(x.shape[0], n, x.shape[1]))


def dropout(case, cls, name, rate, extra=None):
    config = {"rate": rate, "noise_shape": None, "seed": None}
    config.update(extra or {})
    return simple(case, cls, name, config, lambda x: x, "pass")


def activity_regularization(case, name, a, b):
    return simple(case, "ActivityRegularization", name, {"l1": a, "l2": b}, lambda x: x,
                  "pass", activity=l1l2(a, b))


def masking(case, name, mask_value):
    def keep(xs, masks):
        return (xs[0] != mask_value).any(-1)

    def fn(layer, xs, masks):
        return xs[0] * keep(xs, masks).to(DT).unsqueeze(-1)
    return Layer(case, "Masking", name, {"mask_value": mask_value}, fn, mask_fn=keep)


def and_masks(xs, masks):
    ms = [m for m in masks if m is not None]
    if not ms:
        return None
    out = ms[0]
    for m in ms[1:]:
        out = out & m
    return out


def expand_ranks(xs):
    r = max(x.dim() for x in xs)
    out = []
    for x in xs:
        while x.dim() < r:
            x = x.unsqueeze(1)
        out.append(x)
    return out


def merge(case, cls, name):
    def fn(layer, xs, masks):
        xs = expand_ranks(xs)
        if cls == "Add":
            return sum(xs[1:], xs[0])
        if cls == "Subtract":
            return xs[0] - xs[1]
        if cls == "Average":
            return sum(xs[1:], xs[0]) / len(xs)
        y = xs[0]
        for x in xs[1:]:
            y = {"Multiply": torch.mul, "Maximum": torch.maximum,
                 "Minimum": torch.minimum}[cls](y, x)
        return y
    return Layer(case, cls, name, {}, fn, mask_fn=and_masks)


def concatenate(case, name, axis):
    def mask_fn(xs, masks):
        if all(m is None for m in masks):
            return None
        full = []
        for x, m in zip(xs, masks):
            if m is None:
                m = torch.ones(x.shape, dtype=torch.bool)
            elif m.dim() < x.dim():
                m = m.unsqueeze(-1)
            full.append(m)
        return torch.cat(full, axis).all(-1)
    return Layer(case, "Concatenate", name, {"axis": axis},
                 lambda layer, xs, masks: torch.cat(xs, axis), mask_fn=mask_fn)


def dot(case, name, axes, normalize=False):
    def fn(layer, xs, masks):
        a, b = xs
        ax = [axes, axes] if isinstance(axes, int) else list(axes)
        ax = [ax[0] % a.dim(), ax[1] % b.dim()]
        if normalize:
            a = a / torch.sqrt(torch.clamp((a * a).sum(ax[0], keepdim=True), min=1e-12))
            b = b / torch.sqrt(torch.clamp((b * b).sum(ax[1], keepdim=True), min=1e-12))
        am = torch.movedim(a, ax[0], -1)
        bm = torch.movedim(b, ax[1], 1)
        rest_a, rest_b = list(am.shape[1:-1]), list(bm.shape[2:])
        y = torch.bmm(am.reshape(a.shape[0], -1, am.shape[-1]),
                      bm.reshape(b.shape[0], bm.shape[1], -1))
        shape = [a.shape[0]] + rest_a + rest_b
        return y.reshape(shape if len(shape) > 1 else [a.shape[0], 1])
    return Layer(case, "Dot", name, {"axes": axes, "normalize": normalize}, fn)


def leaky_relu(case, name, alpha):
    return simple(case, "LeakyReLU", name, {"alpha": alpha},
                  lambda x: torch.where(x > 0, x, alpha * x), "pass")


def elu(case, name, alpha):
    return simple(case, "ELU", name, {"alpha": alpha},
                  lambda x: torch.where(x > 0, x, alpha * torch.expm1(x)), "pass")


def thresholded_relu(case, name, theta):
    return simple(case, "ThresholdedReLU", name, {"theta": theta},
                  lambda x: x * (x > theta).to(DT), "pass")


def relu_layer(case, name, max_value=None, negative_slope=0.0, threshold=0.0):
    def f(x):  # tf.keras backend.relu
        neg = torch.relu(threshold - x) if negative_slope != 0 else None
        y = x * (x > threshold).to(DT) if threshold != 0 else torch.relu(x)
        if max_value is not None:
            y = torch.clamp(y, 0, max_value)
        if negative_slope != 0:
            y = y - negative_slope * neg
        return y
    return simple(case, "ReLU", name, {"max_value": max_value, "negative_slope": negative_slope,
                                       "threshold": threshold}, f, "pass")


def prelu(case, name, shared_axes=None, reg=None, con=None):
    config = {"alpha_initializer": {"class_name": "Zeros", "config": {}},
              "alpha_regularizer": reg, "alpha_constraint": con, "shared_axes": shared_axes}

    def fn(layer, xs, masks):
        x = xs[0]
        shape = list(x.shape[1:])
        for a in shared_axes or []:
            shape[a - 1] = 1
        alpha = layer.weight("alpha", tuple(shape), reg, con, scale=0.3, offset=0.2)
        return torch.relu(x) - alpha * torch.relu(-x)
    return Layer(case, "PReLU", name, config, fn, masking="pass")


def softmax(case, name, axis=-1):
    def fn(layer, xs, masks):
        x = xs[0]
        if masks[0] is not None:
            x = x + (1.0 - masks[0].to(DT)) * -1e9
        if isinstance(axis, int):
            return torch.softmax(x, axis)
        return torch.exp(x - torch.logsumexp(x, axis, keepdim=True))
    return Layer(case, "Softmax", name, {"axis": axis}, fn, masking="pass")


# ---- the cases ------------------------------------------------------------------------

def dense_cases():
    c = Case("dense_rank2_regs_constraints", 1)
    x = c.input("x", (4, 5))
    h = dense(c, "hidden", 3, "tanh", regs={"kernel": l1l2(0.0625, 0.125), "bias": l2(0.25)},
              cons={"kernel": max_norm(0.75), "bias": non_neg()},
              activity=l1(0.03125))(x)
    y = dense(c, "out", 2, "linear", cons={"kernel": min_max_norm(0.5, 0.8, 0.75)})(h)
    c.save(y)

    c = Case("dense_rank3_unit_norm", 2)
    x = c.input("x", (2, 3, 5))
    c.save(dense(c, "d", 4, "sigmoid", cons={"kernel": unit_norm(0)})(x))

    c = Case("dense_rank4_no_bias_l1", 3)
    x = c.input("x", (2, 2, 3, 4))
    c.save(dense(c, "d", 3, "swish", use_bias=False, regs={"kernel": l1(0.0625)})(x))

    c = Case("sequential_mlp", 4)
    x = c.input("x", (3, 4))
    h = dense(c, "d1", 5, "relu", cons={"kernel": max_norm(1.0, [0])})(x)
    h = dense(c, "d2", 3, "elu")(h)
    y = dense(c, "d3", 2, "softmax")(h)
    c.save(y, sequential=True)


def activation_cases():
    c = Case("activations", 5)
    x = c.input("x", (3, 6), values=c.rng.uniform(-2.4, 2.4, (3, 6)))
    outs = [activation(c, "act_" + name, name)(x) for name in ACTIVATIONS]
    c.save(outs)

    c = Case("advanced_activations", 6)
    x = c.input("x", (3, 4, 5))
    outs = [leaky_relu(c, "leaky", 0.2)(x), elu(c, "elu", 0.7)(x),
            thresholded_relu(c, "thresholded", 0.3)(x),
            relu_layer(c, "relu_max", max_value=1.5)(x),
            relu_layer(c, "relu_all", max_value=1.25, negative_slope=0.1, threshold=0.2)(x),
            relu_layer(c, "relu_leaky", negative_slope=0.25)(x),
            prelu(c, "prelu_full")(x),
            prelu(c, "prelu_shared", shared_axes=[1], reg=l2(0.125), con=non_neg())(x),
            softmax(c, "softmax_last")(x), softmax(c, "softmax_1", 1)(x),
            softmax(c, "softmax_12", [1, 2])(x)]
    c.save(outs)


def conv1d_cases():
    specs = [
        ("conv1d_valid_stride2", dict(filters=3, kernel_size=[3], strides=[2]), (2, 9, 2)),
        ("conv1d_same_asym", dict(filters=3, kernel_size=[4], strides=[2], padding="same"),
         (2, 9, 2)),
        ("conv1d_same_dilation", dict(filters=2, kernel_size=[3], padding="same",
                                      dilation_rate=[2], activation="relu"), (2, 8, 3)),
        ("conv1d_causal_dilation", dict(filters=3, kernel_size=[3], padding="causal",
                                        dilation_rate=[2], activation="tanh"), (2, 7, 2)),
        ("conv1d_causal_stride", dict(filters=2, kernel_size=[2], strides=[2],
                                      padding="causal"), (2, 9, 3)),
        ("conv1d_cf_same_stride", dict(filters=3, kernel_size=[3], strides=[3], padding="same",
                                       data_format="channels_first"), (2, 2, 10)),
        ("conv1d_cf_causal", dict(filters=2, kernel_size=[3], padding="causal",
                                  data_format="channels_first", dilation_rate=[2]), (2, 3, 7)),
        ("conv1d_groups", dict(filters=4, kernel_size=[3], groups=2, padding="same",
                               regs={"kernel": l2(0.125)}), (2, 7, 4)),
    ]
    for i, (name, kw, shape) in enumerate(specs):
        c = Case(name, 100 + i)
        x = c.input("x", shape)
        c.save(conv(c, "conv", 1, **kw)(x))


def conv2d_cases():
    specs = [
        ("conv2d_valid_rect_strides", dict(filters=3, kernel_size=[3, 2], strides=[2, 1]),
         (2, 7, 6, 2)),
        ("conv2d_same_asym_strides", dict(filters=2, kernel_size=[4, 3], strides=[2, 3],
                                          padding="same", activation="relu"), (2, 7, 8, 3)),
        ("conv2d_same_dilation", dict(filters=3, kernel_size=[3, 3], padding="same",
                                      dilation_rate=[2, 3]), (1, 7, 8, 2)),
        ("conv2d_valid_dilation", dict(filters=2, kernel_size=[2, 3], dilation_rate=[3, 1]),
         (2, 7, 5, 2)),
        ("conv2d_cf_same_stride_max_norm", dict(
            filters=3, kernel_size=[3, 3], strides=[2, 2], padding="same",
            data_format="channels_first", cons={"kernel": max_norm(0.5, [0, 1, 2]),
                                                "bias": unit_norm()},
            regs={"bias": l1(0.125)}), (2, 2, 7, 5)),
        ("conv2d_cf_valid_dilation", dict(filters=2, kernel_size=[3, 2], dilation_rate=[2, 2],
                                          data_format="channels_first"), (1, 3, 7, 6)),
        ("conv2d_groups_activity", dict(filters=6, kernel_size=[2, 2], groups=3,
                                        activity=l2(0.0625)), (2, 4, 5, 3)),
        ("conv2d_no_bias_sigmoid", dict(filters=2, kernel_size=[1, 3], use_bias=False,
                                        activation="sigmoid", padding="same"), (2, 3, 5, 2)),
    ]
    for i, (name, kw, shape) in enumerate(specs):
        c = Case(name, 200 + i)
        x = c.input("x", shape)
        c.save(conv(c, "conv", 2, **kw)(x))


def depthwise_separable_cases():
    specs = [
        ("depthwise_same_m2_stride", dict(kernel_size=(3, 3), strides=(2, 2), padding="same",
                                          depth_multiplier=2,
                                          regs={"depthwise": l1(0.0625)},
                                          cons={"depthwise": unit_norm([0, 1])}), (2, 7, 6, 2)),
        ("depthwise_cf_valid_dilation_m3", dict(kernel_size=(2, 3), dilation_rate=(2, 1),
                                                depth_multiplier=3,
                                                data_format="channels_first",
                                                activation="relu"), (2, 2, 6, 5)),
        ("depthwise_same_even_kernel", dict(kernel_size=(4, 2), padding="same",
                                            strides=(3, 2)), (1, 8, 7, 3)),
    ]
    for i, (name, kw, shape) in enumerate(specs):
        c = Case(name, 300 + i)
        x = c.input("x", shape)
        c.save(depthwise(c, "dw", **kw)(x))
    specs = [
        ("separable_same_m2_stride", dict(filters=3, kernel_size=(3, 3), strides=(2, 2),
                                          padding="same", depth_multiplier=2,
                                          regs={"pointwise": l2(0.125), "depthwise": l1(0.0625)},
                                          cons={"pointwise": max_norm(0.5, [0, 1, 2])}),
         (2, 7, 6, 2)),
        ("separable_cf_valid_dilation", dict(filters=2, kernel_size=(2, 2),
                                             dilation_rate=(2, 3), depth_multiplier=1,
                                             data_format="channels_first",
                                             activation="tanh"), (2, 3, 6, 7)),
    ]
    for i, (name, kw, shape) in enumerate(specs):
        c = Case(name, 310 + i)
        x = c.input("x", shape)
        c.save(separable(c, "sep", **kw)(x))


def pooling_cases():
    c = Case("max_pooling1d", 400)
    x = c.input("x", (2, 9, 3))
    xf = c.input("xf", (2, 3, 8))
    c.save([max_pool(c, "p_same", 1, [2], padding="same")(x),
            max_pool(c, "p_valid", 1, [3], [2])(x),
            max_pool(c, "p_same_overlap", 1, [3], [2], padding="same")(x),
            max_pool(c, "p_cf", 1, [3], [3], padding="same", data_format="channels_first")(xf)])

    c = Case("max_pooling2d", 401)
    x = c.input("x", (2, 7, 5, 2))
    xf = c.input("xf", (2, 2, 7, 6))
    c.save([max_pool(c, "p_same", 2, [3, 2], [2, 2], padding="same")(x),
            max_pool(c, "p_valid", 2, [2, 2])(x),
            max_pool(c, "p_cf_valid", 2, [3, 2], [2, 3], data_format="channels_first")(xf),
            max_pool(c, "p_cf_same", 2, [2, 3], [3, 2], padding="same",
                     data_format="channels_first")(xf)])


def locally_connected_cases():
    specs = [
        ("lc1d_cl_impl1", 1, dict(filters=3, kernel_size=[3], strides=[2],
                                  regs={"kernel": l2(0.125)},
                                  cons={"kernel": max_norm(0.75, 1)}), (2, 9, 2)),
        ("lc1d_cf_impl1", 1, dict(filters=2, kernel_size=[2], strides=[1],
                                  data_format="channels_first", activation="relu"), (2, 3, 6)),
        ("lc2d_cl_impl1", 2, dict(filters=2, kernel_size=[3, 2], strides=[2, 1]), (2, 7, 5, 2)),
        ("lc2d_cf_impl1", 2, dict(filters=3, kernel_size=[2, 2], strides=[1, 2],
                                  data_format="channels_first", activity=l1(0.0625)),
         (2, 2, 5, 6)),
        ("lc1d_cl_impl2_same", 1, dict(filters=2, kernel_size=[4], strides=[2], padding="same",
                                       implementation=2, regs={"kernel": l1(0.0625)}),
         (2, 9, 2)),
        ("lc1d_cf_impl2_valid", 1, dict(filters=2, kernel_size=[3], strides=[2],
                                        implementation=2, data_format="channels_first"),
         (2, 2, 8)),
        ("lc2d_cl_impl2_same", 2, dict(filters=2, kernel_size=[3, 2], strides=[2, 2],
                                       padding="same", implementation=2), (1, 5, 6, 2)),
        ("lc2d_cf_impl2_same", 2, dict(filters=2, kernel_size=[2, 3], padding="same",
                                       implementation=2, data_format="channels_first"),
         (2, 2, 4, 5)),
        ("lc1d_cl_impl3_same", 1, dict(filters=2, kernel_size=[3], strides=[2], padding="same",
                                       implementation=3, regs={"kernel": l2(0.125)}),
         (2, 8, 2)),
        ("lc2d_cl_impl3_valid", 2, dict(filters=2, kernel_size=[2, 2], strides=[1, 2],
                                        implementation=3), (2, 4, 5, 2)),
        ("lc2d_cf_impl3_same", 2, dict(filters=3, kernel_size=[3, 2], strides=[2, 1],
                                       padding="same", implementation=3,
                                       data_format="channels_first"), (2, 2, 5, 4)),
    ]
    for i, (name, rank, kw, shape) in enumerate(specs):
        c = Case(name, 500 + i)
        x = c.input("x", shape)
        c.save(locally_connected(c, "lc", rank, **kw)(x))


def reshaping_cases():
    c = Case("flatten_channels_first", 600)
    x = c.input("x", (2, 2, 5, 4))
    h = conv(c, "conv", 2, 3, [2, 2], data_format="channels_first")(x)
    y = dense(c, "d", 2)(flatten(c, "flat", "channels_first")(h))
    c.save(y)

    c = Case("reshape_permute_repeat", 601)
    x = c.input("x", (2, 2, 6))
    h = reshape(c, "reshape", [3, -1])(x)
    h = permute(c, "permute", [2, 1])(h)
    h = flatten(c, "flat")(h)
    h = repeat_vector(c, "repeat", 3)(h)
    y = dense(c, "d", 2, "tanh")(h)
    c.save(y)

    c = Case("dropout_inference_stack", 602)
    x1 = c.input("x1", (2, 4, 5))
    x2 = c.input("x2", (2, 3, 4, 5))
    x3 = c.input("x3", (2, 2, 3, 3, 2))
    h = dropout(c, "Dropout", "drop", 0.3)(x1)
    h = dropout(c, "SpatialDropout1D", "sdrop1", 0.5)(h)
    h = activity_regularization(c, "actreg", 0.0625, 0.125)(h)
    y1 = dense(c, "d", 3, activity=l1l2(0.03125, 0.0625))(h)
    y2 = flatten(c, "flat2", "channels_first")(
        dropout(c, "SpatialDropout2D", "sdrop2", 0.5, {"data_format": "channels_first"})(x2))
    y3 = flatten(c, "flat3")(dropout(c, "SpatialDropout3D", "sdrop3", 0.5)(x3))
    c.save([y1, y2, y3])


def merge_cases():
    c = Case("merges", 700)
    a = c.input("a", (2, 3, 4))
    b = c.input("b", (2, 3, 4))
    v = c.input("v", (2, 4))
    w = c.input("w", (2, 4, 3))
    u = c.input("u", (2, 4))
    outs = [merge(c, "Add", "add")([a, b, v]),
            merge(c, "Subtract", "subtract")([a, b]),
            merge(c, "Multiply", "multiply")([a, b, v]),
            merge(c, "Average", "average")([a, b]),
            merge(c, "Maximum", "maximum")([a, b, v]),
            merge(c, "Minimum", "minimum")([a, b]),
            concatenate(c, "concat1", 1)([a, b]),
            concatenate(c, "concat_last", -1)([a, b]),
            dot(c, "dot_21", [2, 1])([a, w]),
            dot(c, "dot_norm", 2, normalize=True)([a, b]),
            dot(c, "dot_vec", 1)([v, u]),
            dot(c, "dot_neg", [-2, 1])([b, a])]
    c.save(outs)


def mask_cases():
    """Masks created, passed, merged and (by Softmax) consumed. The cases
    whose Softmax consumes a Masking mask (mask_softmax, mask_merges) need a
    batch of 1: tf.keras adds the (B, T) mask to the (B, T, T) scores with
    numpy broadcasting, which only lines up when B is 1."""
    # Masking -> Dense -> Softmax: the mask reaches the Softmax (batch 1, so
    # the (1, T) mask broadcasts over the last axis of the (1, T, T) scores).
    c = Case("mask_softmax", 800)
    xv = c.rng.normal(0.0, 1.0, (1, 5, 3))
    xv[0, 1] = 0.0
    xv[0, 3] = 0.0
    x = c.input("x", (1, 5, 3), values=xv)
    h = masking(c, "mask", 0.0)(x)
    h = dense(c, "scores", 5)(h)
    c.save(softmax(c, "softmax")(h))

    c = Case("mask_value_chain", 801)
    xv = c.rng.normal(0.0, 1.0, (1, 4, 3))
    xv[0, 2] = 0.5
    x = c.input("x", (1, 4, 3), values=xv)
    h = masking(c, "mask", 0.5)(x)
    h = activation(c, "act", "tanh")(h)
    h = activity_regularization(c, "actreg", 0.0625, 0.0)(h)
    h = dense(c, "scores", 4)(h)
    h = leaky_relu(c, "leaky", 0.1)(h)
    # Mask merging on the way (the masks themselves are not outputs).
    e = c.input("e", (1, 4, 4))
    h = merge(c, "Maximum", "max")([h, e])
    c.save([h, concatenate(c, "cat", -1)([h, e])])

    c = Case("mask_merges", 802)
    av = c.rng.normal(0.0, 1.0, (1, 4, 3))
    av[0, 0] = 0.0
    bv = c.rng.normal(0.0, 1.0, (1, 4, 3))
    bv[0, 2] = 0.0
    a = c.input("a", (1, 4, 3), values=av)
    b = c.input("b", (1, 4, 3), values=bv)
    e = c.input("e", (1, 4, 2))
    ma = masking(c, "mask_a", 0.0)(a)
    mb = masking(c, "mask_b", 0.0)(b)
    s1 = softmax(c, "sm_add")(dense(c, "d_add", 4)(merge(c, "Add", "add")([ma, mb])))
    s2 = softmax(c, "sm_mul")(dense(c, "d_mul", 4)(merge(c, "Multiply", "mul")([ma, b])))
    s3 = softmax(c, "sm_cat")(dense(c, "d_cat", 4)(concatenate(c, "cat", -1)([mb, e])))
    # A Conv1D drops the mask: this Softmax is unmasked.
    s4 = softmax(c, "sm_conv")(dense(c, "d_conv", 4)(
        conv(c, "conv", 1, 2, [3], padding="same")(ma)))
    c.save([s1, s2, s3, s4])


def stack_cases():
    c = Case("convnet_stack", 900)
    x = c.input("x", (2, 9, 8, 2))
    h = conv(c, "conv", 2, 3, [3, 3], [2, 2], "same", activation="relu",
             regs={"kernel": l2(0.0625)}, cons={"kernel": max_norm(0.75, [0, 1, 2])})(x)
    h = depthwise(c, "dw", (3, 2), padding="same", depth_multiplier=2, activation="elu",
                  cons={"bias": non_neg()})(h)
    h = max_pool(c, "pool", 2, [2, 2], padding="same")(h)
    h = separable(c, "sep", 3, (2, 2), activation="selu", regs={"bias": l1(0.125)})(h)
    h = flatten(c, "flat")(h)
    y = dense(c, "head", 3, "softmax", activity=l2(0.125))(h)
    c.save(y)

    c = Case("seq1d_stack", 901)
    x = c.input("x", (2, 11, 2))
    h = conv(c, "causal", 1, 3, [3], padding="causal", dilation_rate=[2],
             activation="relu")(x)
    h = max_pool(c, "pool", 1, [2], padding="same")(h)
    h = locally_connected(c, "lc", 1, 2, [2], cons={"kernel": unit_norm(1)})(h)
    h = prelu(c, "prelu", shared_axes=[1])(h)
    y = dense(c, "head", 2)(flatten(c, "flat")(h))
    c.save(y)

    c = Case("shared_layers", 902)
    a = c.input("a", (3, 4))
    b = c.input("b", (3, 4))
    shared = dense(c, "shared", 3, "tanh", regs={"kernel": l2(0.125)}, activity=l1(0.0625))
    sa, sb = shared(a), shared(b)
    y = dense(c, "head", 2)(merge(c, "Average", "avg")([sa, sb]))
    c.save([y, sa])

    c = Case("sequential_conv_lc", 903)
    x = c.input("x", (2, 6, 7, 2))
    h = conv(c, "conv", 2, 2, [2, 3], padding="same", activation="softplus")(x)
    h = locally_connected(c, "lc", 2, 2, [2, 2], strides=[2, 2])(h)
    h = flatten(c, "flat")(h)
    h = dense(c, "d", 3, "gelu", cons={"kernel": min_max_norm(0.25, 0.5, 1.0),
                                       "bias": max_norm(0.1)})(h)
    c.save(h, sequential=True)

    c = Case("sequential_frozen_first_layer", 904)
    x = c.input("x", (2, 7, 3))
    frozen = conv(c, "frozen", 1, 2, [3], strides=[2], padding="same",
                  regs={"kernel": l2(0.125)})
    frozen.config["trainable"] = False
    h = frozen(x)
    h = dense(c, "d", 2, "relu6")(flatten(c, "flat")(h))
    c.save(h, sequential="no_input_layer")


def main():
    torch.manual_seed(0)
    for d in os.listdir(HERE):
        if os.path.isdir(os.path.join(HERE, d)):
            shutil.rmtree(os.path.join(HERE, d))
    dense_cases()
    activation_cases()
    conv1d_cases()
    conv2d_cases()
    depthwise_separable_cases()
    pooling_cases()
    locally_connected_cases()
    reshaping_cases()
    merge_cases()
    mask_cases()
    stack_cases()
    with open(os.path.join(HERE, "cases.txt"), "w") as f:
        f.write("# <case> <inputs> <outputs>; written by make_reference.py\n")
        for name, n_in, n_out in CASES:
            f.write("%s %d %d\n" % (name, n_in, n_out))


if __name__ == "__main__":
    main()
