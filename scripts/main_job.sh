#!/usr/bin/env bash
# The main job: trains the TensorFlow-tutorial convnet on Fashion-MNIST with
# kiln's Keras layers, Fit and Evaluate (examples/fashion_mnist), 5 epochs,
# and ends with a `RESULT test_accuracy=... ` line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh fashion_mnist
./build/examples/fashion_mnist --epochs=5 "$@"
