#!/usr/bin/env bash
# The main job: trains on Fashion-MNIST and prints the test accuracy.
# Until the convnet example of issue 6 lands, this runs tutorial 1 (an MLP
# trained with graph ops, autodiff and SGD on the interpreter backend).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh autodiff_mlp
./build/examples/autodiff_mlp --epochs=3 "$@"
