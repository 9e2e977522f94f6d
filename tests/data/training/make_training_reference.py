#!/usr/bin/python3
"""Writes the training-step reference of tests/layers/training_reference_test.cc.

A small copy of the fashion_mnist convnet (examples/fashion_mnist):

  Input 12x12x1 -> Conv2D 4 3x3 same relu ('conv_a') -> MaxPooling2D 2
  -> Conv2D 6 3x3 same relu ('conv_b') -> MaxPooling2D 2 -> Flatten
  -> Dense 16 relu ('hidden') -> Dense 10 ('logits')

trained with sparse categorical crossentropy from logits (mean over the
batch) and Adam as tf.keras 2.11+ writes it (lr 0.01, beta_1 0.9, beta_2
0.999, epsilon 1e-7):

  m += (g - m)(1 - beta_1);  v += (g^2 - v)(1 - beta_2)
  w -= lr sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)

(torch.optim.Adam puts epsilon elsewhere, so the update is written by hand),
for 3 steps of 8 examples. Independent of kiln: PyTorch's conv2d, max_pool2d,
linear and cross_entropy in float64 from the float32 values kiln reads, the
weights converted from Keras layouts (conv kernel [kh,kw,cin,cout] ->
[cout,cin,kh,kw]; Dense kernel [in,out] -> [out,in]; Keras' Flatten reads
(h,w,c), torch's (c,h,w), so the rows of hidden/kernel are permuted).

Writes, next to this script (run once; the outputs are committed and the
test never runs Python):

  initial_weights.npz  `<layer>/<weight>` in Keras layouts, float32
  batches.npz          x [3,8,12,12,1] float32 in [0,1), y [3,8] int32
  expected.npz         losses [3] (each step's loss, before its update) and
                       `<layer>/<weight>` after the 3 steps, float32

It also prints how far a float32 run of the same steps lands from the
float64 reference (the rounding the test's tolerance must cover) and how
far a few plausible mistakes land (what the tolerance must not cover).

  /usr/bin/python3 tests/data/training/make_training_reference.py
"""
import os

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS, BATCH, SIDE = 3, 8, 12
LR, BETA_1, BETA_2, EPSILON = 0.01, 0.9, 0.999, 1e-7
# (layer, kernel shape in Keras layout); biases have the last dimension.
LAYERS = [('conv_a', (3, 3, 1, 4)), ('conv_b', (3, 3, 4, 6)),
          ('hidden', (3 * 3 * 6, 16)), ('logits', (16, 10))]


def initial_weights(rng):
    """Glorot-uniform kernels and small non-zero biases (so their gradients matter)."""
    w = {}
    for name, shape in LAYERS:
        receptive = int(np.prod(shape[:-2]))
        limit = np.sqrt(6.0 / (receptive * shape[-2] + receptive * shape[-1]))
        w[name + '/kernel'] = rng.uniform(-limit, limit, shape).astype(np.float32)
        w[name + '/bias'] = rng.uniform(-0.1, 0.1, shape[-1]).astype(np.float32)
    return w


def to_torch(w, flatten_hwc=True):
    """Keras layouts -> torch layouts (float64 tensors that require grad)."""
    t = {}
    for name in ('conv_a', 'conv_b'):
        t[name + '/kernel'] = w[name + '/kernel'].transpose(3, 2, 0, 1)
    k = w['hidden/kernel']  # rows in Keras' (h, w, c) order
    if flatten_hwc:
        k = k.reshape(3, 3, 6, 16).transpose(2, 0, 1, 3).reshape(54, 16)  # -> (c, h, w)
    t['hidden/kernel'] = k.T
    t['logits/kernel'] = w['logits/kernel'].T
    for name, _ in LAYERS:
        t[name + '/bias'] = w[name + '/bias']
    return {key: torch.tensor(np.ascontiguousarray(v), dtype=torch.float64, requires_grad=True)
            for key, v in t.items()}


def to_keras(t, flatten_hwc=True):
    w = {}
    for name in ('conv_a', 'conv_b'):
        w[name + '/kernel'] = t[name + '/kernel'].transpose(2, 3, 1, 0)
    k = t['hidden/kernel'].T
    if flatten_hwc:
        k = k.reshape(6, 3, 3, 16).transpose(1, 2, 0, 3).reshape(54, 16)
    w['hidden/kernel'] = k
    w['logits/kernel'] = t['logits/kernel'].T
    for name, _ in LAYERS:
        w[name + '/bias'] = t[name + '/bias']
    return {name + '/' + part: w[name + '/' + part] for name, _ in LAYERS for part in ('kernel', 'bias')}


def logits_of(p, x):
    """x: [N, H, W, 1] (Keras layout) -> logits [N, 10]."""
    h = torch.as_tensor(x, dtype=p['conv_a/kernel'].dtype).permute(0, 3, 1, 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, p['conv_a/kernel'], p['conv_a/bias'], padding=1)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, p['conv_b/kernel'], p['conv_b/bias'], padding=1)), 2)
    h = F.relu(F.linear(h.flatten(1), p['hidden/kernel'], p['hidden/bias']))
    return F.linear(h, p['logits/kernel'], p['logits/bias'])


def train(weights, xs, ys, dtype=torch.float64, adam='keras', flatten_hwc=True):
    """Returns (losses, weights after the steps in Keras layouts, float64)."""
    p = {k: v.detach().to(dtype).requires_grad_() for k, v in to_torch(weights, flatten_hwc).items()}
    m = {k: torch.zeros_like(v) for k, v in p.items()}
    v = {k: torch.zeros_like(q) for k, q in p.items()}
    losses = []
    for step, (x, y) in enumerate(zip(xs, ys), start=1):
        loss = F.cross_entropy(logits_of(p, x), torch.as_tensor(y, dtype=torch.int64))
        for q in p.values():
            q.grad = None
        loss.backward()
        losses.append(loss.item())
        with torch.no_grad():
            for k, q in p.items():
                g = q.grad
                m[k] += (g - m[k]) * (1 - BETA_1)
                v[k] += (g * g - v[k]) * (1 - BETA_2)
                if adam == 'keras':
                    alpha = LR * np.sqrt(1 - BETA_2**step) / (1 - BETA_1**step)
                    q -= alpha * m[k] / (v[k].sqrt() + EPSILON)
                elif adam == 'torch':  # epsilon added to the bias-corrected sqrt(v)
                    q -= LR * (m[k] / (1 - BETA_1**step)) / ((v[k] / (1 - BETA_2**step)).sqrt() + EPSILON)
                elif adam == 'no_bias_correction':
                    q -= LR * m[k] / (v[k].sqrt() + EPSILON)
    final = to_keras({k: q.detach().double().numpy() for k, q in p.items()}, flatten_hwc)
    return np.array(losses), final


def distance(result, reference):
    """(max relative loss difference, max absolute weight difference)."""
    (losses, w), (ref_losses, ref_w) = result, reference
    return (np.abs(losses - ref_losses).max() / np.abs(ref_losses).max(),
            max(np.abs(w[k] - ref_w[k]).max() for k in ref_w))


def main():
    rng = np.random.default_rng(20261122)
    weights = initial_weights(rng)
    xs = rng.random((STEPS, BATCH, SIDE, SIDE, 1), dtype=np.float64).astype(np.float32)
    ys = rng.integers(0, 10, (STEPS, BATCH)).astype(np.int32)
    reference = train(weights, xs, ys)
    losses, final = reference

    np.savez(os.path.join(HERE, 'initial_weights.npz'), **weights)
    np.savez(os.path.join(HERE, 'batches.npz'), x=xs, y=ys)
    expected = {'losses': losses.astype(np.float32)}
    expected.update({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in final.items()})
    np.savez(os.path.join(HERE, 'expected.npz'), **expected)

    print('losses per step:', losses)
    print('largest weight change:', max(np.abs(final[k] - weights[k]).max() for k in final))
    for label, kwargs in [('float32 (rounding only)', {'dtype': torch.float32}),
                          ('torch.optim.Adam epsilon', {'adam': 'torch'}),
                          ('no Adam bias correction', {'adam': 'no_bias_correction'}),
                          ('Flatten in (c,h,w) order', {'flatten_hwc': False})]:
        loss_diff, weight_diff = distance(train(weights, xs, ys, **kwargs), reference)
        print(f'{label:28s} max rel loss diff {loss_diff:.1e}, max abs weight diff {weight_diff:.1e}')


if __name__ == '__main__':
    main()
