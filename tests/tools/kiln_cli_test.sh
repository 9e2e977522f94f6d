#!/usr/bin/env bash
# `kiln summary`, `kiln eval`, `kiln show` and `kiln profile` end to end, on the models of
# tests/data/models/ (written by make_cli_fixtures.py, which also computes
# the expected numbers by hand in plain Python): outputs, input and weight
# gradients, regularization loss and SGD updates with both backends; then a
# table of bad inputs, each of which must end with one "kiln: ..." line
# naming the layer or file and exit status 1 (never a crash).
# Usage: kiln_cli_test.sh KILN_BINARY DATA_DIR SCRATCH_DIR
set -uo pipefail
kiln=$1
data=$2
scratch=$3
rm -rf "$scratch"
mkdir -p "$scratch"
failures=0

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# Compares `kiln show` output with an expected file of the same format: the
# same keys, types and shapes; values within 1e-5 (absolute) + 1e-5 (relative).
compare() {
  local name=$1 expected=$2 actual=$3
  if ! awk -v name="$name" '
    NR == FNR { want[$1] = $0; next }
    {
      seen[$1] = 1
      if (!($1 in want)) { print name ": unexpected key " $1; bad = 1; next }
      n = split(want[$1], w, " ")
      if (n != NF || w[2] != $2) { print name ": " $1 " is " $2 " (" NF - 2 " values), expected " w[2]; bad = 1; next }
      for (i = 3; i <= NF; ++i) {
        d = $i - w[i]; if (d < 0) d = -d
        t = w[i]; if (t < 0) t = -t
        if (d > 1e-5 + 1e-5 * t) { print name ": " $1 "[" i - 3 "] = " $i ", expected " w[i]; bad = 1 }
      }
    }
    END {
      for (k in want) if (!(k in seen)) { print name ": missing key " k; bad = 1 }
      exit bad
    }' "$expected" "$actual"; then
    fail "$name"
  fi
}

# ---- summary -------------------------------------------------------------------
"$kiln" summary --model "$data/mlp_reg.json" >"$scratch/summary.txt" 2>"$scratch/err.txt" \
  || fail "summary: $(cat "$scratch/err.txt")"
diff -u "$data/expected/mlp_reg_summary.txt" "$scratch/summary.txt" || fail "summary text"

# ---- eval ------------------------------------------------------------------------
for backend in jit interp; do
  m="$data/mlp_reg"
  if "$kiln" eval --model "$m.json" --weights "${m}_weights.npz" --input "${m}_x.npy" \
      --out "$scratch/fwd.npz" --backend "$backend" 2>"$scratch/err.txt"; then
    "$kiln" show "$scratch/fwd.npz" >"$scratch/fwd.txt"
    compare "mlp_reg forward ($backend)" "$data/expected/mlp_reg_forward.txt" "$scratch/fwd.txt"
  else
    fail "mlp_reg forward ($backend): $(cat "$scratch/err.txt")"
  fi
  if "$kiln" eval --model "$m.json" --weights "${m}_weights.npz" --input "${m}_x.npy" \
      --cotangent "${m}_r.npy" --sgd-step 0.1 --out "$scratch/grad.npz" \
      --backend "$backend" --training --seed 7 2>"$scratch/err.txt"; then
    "$kiln" show "$scratch/grad.npz" >"$scratch/grad.txt"
    compare "mlp_reg gradients ($backend)" "$data/expected/mlp_reg_grad.txt" "$scratch/grad.txt"
  else
    fail "mlp_reg gradients ($backend): $(cat "$scratch/err.txt")"
  fi
  s="$data/shared_two_io"
  if "$kiln" eval --model "$s.json" --weights "${s}_weights.npz" --input "${s}_a.npy" \
      --input "${s}_b.npy" --cotangent "${s}_r1.npy" --cotangent "${s}_r2.npy" \
      --out "$scratch/shared.npz" --backend "$backend" 2>"$scratch/err.txt"; then
    "$kiln" show "$scratch/shared.npz" >"$scratch/shared.txt"
    compare "shared_two_io ($backend)" "$data/expected/shared_two_io_grad.txt" "$scratch/shared.txt"
  else
    fail "shared_two_io ($backend): $(cat "$scratch/err.txt")"
  fi
done

# ---- dropout: off in inference; in training reproducible per --seed -------------------
d="$data/dropout"
run_dropout() {  # extra eval flags...; prints `kiln show` of the output
  "$kiln" eval --model "$d.json" --weights "${d}_weights.npz" --input "${d}_x.npy" \
    --out "$scratch/drop.npz" "$@" 2>"$scratch/err.txt" || fail "dropout $*: $(cat "$scratch/err.txt")"
  "$kiln" show "$scratch/drop.npz"
}
run_dropout >"$scratch/drop_infer.txt"
compare "dropout inference" "$data/expected/dropout_forward.txt" "$scratch/drop_infer.txt"
for backend in jit interp; do
  run_dropout --training --seed 1 --backend "$backend" >"$scratch/drop_1_$backend.txt"
done
run_dropout --training --seed 1 >"$scratch/drop_1_again.txt"
run_dropout --training --seed 2 >"$scratch/drop_2.txt"
cmp -s "$scratch/drop_1_jit.txt" "$scratch/drop_1_interp.txt" || fail "dropout masks differ by backend"
cmp -s "$scratch/drop_1_jit.txt" "$scratch/drop_1_again.txt" || fail "dropout seed 1 not reproducible"
cmp -s "$scratch/drop_1_jit.txt" "$scratch/drop_2.txt" && fail "dropout seeds 1 and 2 give the same mask"
# Every training value is 0 or 2x (rate 0.5), and both occur.
awk 'NR == FNR { for (i = 3; i <= NF; ++i) x[i] = $i; next }
     { for (i = 3; i <= NF; ++i) {
         if ($i == 0) zeros++; else if ($i - 2 * x[i] > 1e-4 || 2 * x[i] - $i > 1e-4) bad++; else kept++ } }
     END { exit !(bad == 0 && zeros > 0 && kept > 0) }' \
  "$data/expected/dropout_forward.txt" "$scratch/drop_1_jit.txt" || fail "dropout values are not 0 or 2x"

# ---- kiln profile ---------------------------------------------------------------
# kiln profile: one row per kernel (JIT) or node (interpreter), each called
# once per step and naming its layer; the trace is JSON with complete events.
for backend in jit interp; do
  if "$kiln" profile --model "$data/small_convnet.json" --input-shape 8,8,1 --batch 4 --steps 3 \
      --backend "$backend" --trace "$scratch/trace_$backend.json" \
      >"$scratch/profile_$backend.txt" 2>"$scratch/err.txt"; then
    awk '/^-----/ { rules++; next }
         rules == 2 { rows++; if ($3 != 3) bad = bad " " $1 " has " $3 " calls"
                      if ($0 !~ /(conv2d|max_pooling2d|flatten|dense) \|/) bad = bad " " $1 " names no layer" }
         END { if (rows == 0) bad = " no rows"; if (bad != "") { print bad; exit 1 } }' \
      "$scratch/profile_$backend.txt" >"$scratch/err.txt" ||
      fail "profile ($backend):$(cat "$scratch/err.txt")"
    for layer in conv2d max_pooling2d dense; do
      grep -q " $layer |" "$scratch/profile_$backend.txt" || fail "profile ($backend): no $layer row"
    done
    grep -q '"traceEvents"' "$scratch/trace_$backend.json" &&
      grep -q '"ph":"X"' "$scratch/trace_$backend.json" || fail "profile ($backend): trace"
    if command -v python3 >/dev/null; then
      python3 -c 'import json, sys; e = json.load(open(sys.argv[1]))["traceEvents"]; assert any(x["ph"] == "X" and x.get("cat") == "kernel" for x in e)' \
        "$scratch/trace_$backend.json" || fail "profile ($backend): trace is not valid JSON"
    fi
  else
    fail "profile ($backend): $(cat "$scratch/err.txt")"
  fi
done

# kiln profile --train: the training step's kernels (forward, loss, gradients,
# optimizer update), each called once per step; every layer has forward and
# gradient rows, and the trace is valid JSON.
for backend in jit interp; do
  out="$scratch/train_profile_$backend.txt"
  if "$kiln" profile --model "$data/small_convnet.json" --input-shape 8,8,1 --batch 4 --steps 2 \
      --train --optimizer sgd --backend "$backend" --trace "$scratch/train_trace_$backend.json" \
      >"$out" 2>"$scratch/err.txt"; then
    grep -q "training step (loss sparse_categorical_crossentropy, optimizer sgd)" "$out" ||
      fail "profile --train ($backend): title: $(head -n 1 "$out")"
    awk '/^-----/ { rules++; next }
         rules == 2 { rows++; if ($3 != 2) bad = bad " " $1 " has " $3 " calls" }
         END { if (rows == 0) bad = " no rows"; if (bad != "") { print bad; exit 1 } }' \
      "$out" >"$scratch/err.txt" || fail "profile --train ($backend):$(cat "$scratch/err.txt")"
    for layer in conv2d max_pooling2d dense conv2d/grad max_pooling2d/grad dense/grad; do
      grep -Eq "[ ,]$layer[ ,].*\|" "$out" || fail "profile --train ($backend): no $layer row"
    done
    grep -Eq '\| .*(sqrt|gather|one_hot)' "$out" || fail "profile --train ($backend): no loss rows"
    if command -v python3 >/dev/null; then
      python3 -c 'import json, sys; e = json.load(open(sys.argv[1]))["traceEvents"]; assert any(x["ph"] == "X" and x.get("cat") == "kernel" for x in e)' \
        "$scratch/train_trace_$backend.json" || fail "profile --train ($backend): trace is not valid JSON"
    fi
  else
    fail "profile --train ($backend): $(cat "$scratch/err.txt")"
  fi
done
# Every loss family gets labels it accepts (class indices, one-hot, 0/1, values).
for loss in mse categorical_crossentropy binary_crossentropy hinge kld poisson; do
  "$kiln" profile --model "$data/small_convnet.json" --input-shape 8,8,1 --batch 4 --steps 1 \
    --train --loss "$loss" >/dev/null 2>"$scratch/err.txt" ||
    fail "profile --train --loss $loss: $(cat "$scratch/err.txt")"
done
# ---- bad inputs --------------------------------------------------------------------
# A model with an integer output, which no loss can train.
printf '{"class_name": "Sequential", "config": {"name": "ints", "layers": [{"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "dtype": "int32", "sparse": false, "ragged": false, "name": "ids"}}, {"class_name": "Flatten", "config": {"name": "flat_ids"}}]}, "keras_version": "2.12.0", "backend": "tensorflow"}' >"$scratch/int_output.json"

# A Sequential model around one layer config (JSON object text).
one_layer_model() {
  printf '{"class_name": "Sequential", "config": {"name": "bad", "layers": [{"class_name": "InputLayer", "config": {"batch_input_shape": [null, 8, 8, 3], "dtype": "float32", "sparse": false, "ragged": false, "name": "x"}}, %s]}, "keras_version": "2.12.0", "backend": "tensorflow"}' "$1" >"$2"
}
one_layer_model '{"class_name": "Conv2D", "config": {"name": "strided_dilated", "filters": 2, "kernel_size": [3, 3], "strides": [2, 2], "dilation_rate": [2, 2]}}' "$scratch/stride_dilation.json"
one_layer_model '{"class_name": "Conv2D", "config": {"name": "causal_conv", "filters": 2, "kernel_size": 3, "padding": "causal"}}' "$scratch/causal.json"
one_layer_model '{"class_name": "Dense", "config": {"name": "odd_activation", "units": 2, "activation": "swishy"}}' "$scratch/activation.json"
one_layer_model '{"class_name": "Frobnicate", "config": {"name": "mystery"}}' "$scratch/unknown_class.json"
head -c 200 "$data/mlp_reg.json" >"$scratch/truncated.json"
sed 's/\[\["a", 0, 0, {}\]\], \[\["b", 0, 0, {}\]\]/[["a", 0, 0, {}]], [["c", 0, 0, {}]]/' \
  "$data/shared_two_io.json" >"$scratch/missing_inbound.json"
head -c 600 "$data/mlp_reg_weights.npz" >"$scratch/truncated.npz"
printf 'not an array' >"$scratch/garbage.npy"

m="$data/mlp_reg"
ok_args=(--weights "${m}_weights.npz" --input "${m}_x.npy" --out "$scratch/bad_out.npz")
# name | expected message fragment | kiln arguments...
bad_cases=(
  "stride and dilation|strided_dilated|eval --model $scratch/stride_dilation.json ${ok_args[*]}"
  "causal Conv2D|causal_conv|eval --model $scratch/causal.json ${ok_args[*]}"
  "unknown activation|odd_activation|eval --model $scratch/activation.json ${ok_args[*]}"
  "unknown layer class|Frobnicate|summary --model $scratch/unknown_class.json"
  "malformed JSON|truncated.json: malformed JSON|summary --model $scratch/truncated.json"
  "missing inbound layer|inbound layer 'c'|summary --model $scratch/missing_inbound.json"
  "missing model file|no_such_model.json|summary --model $scratch/no_such_model.json"
  "missing weight|missing weight 'out/bias'|eval --model $m.json --weights ${m}_missing.npz --input ${m}_x.npy --out $scratch/bad_out.npz"
  "mis-shaped weight|weight 'hidden/kernel' is f32[2,3]|eval --model $m.json --weights ${m}_misshaped.npz --input ${m}_x.npy --out $scratch/bad_out.npz"
  "truncated weights|truncated.npz|eval --model $m.json --weights $scratch/truncated.npz --input ${m}_x.npy --out $scratch/bad_out.npz"
  "input of the wrong shape|mlp_reg_r.npy|eval --model $m.json --weights ${m}_weights.npz --input ${m}_r.npy --out $scratch/bad_out.npz"
  "garbage input|garbage.npy|eval --model $m.json --weights ${m}_weights.npz --input $scratch/garbage.npy --out $scratch/bad_out.npz"
  "cotangent of the wrong shape|mlp_reg_x.npy|eval --model $m.json --weights ${m}_weights.npz --input ${m}_x.npy --cotangent ${m}_x.npy --out $scratch/bad_out.npz"
  "too many inputs|2 --input|eval --model $m.json --weights ${m}_weights.npz --input ${m}_x.npy --input ${m}_x.npy --out $scratch/bad_out.npz"
  "sgd without cotangent|--sgd-step needs --cotangent|eval --model $m.json --weights ${m}_weights.npz --input ${m}_x.npy --sgd-step 0.1 --out $scratch/bad_out.npz"
  "profile input of the wrong shape|does not fit input 'image'|profile --model $data/small_convnet.json --input-shape 8,8"
  "profile input shape not a list|--input-shape '8,x,1'|profile --model $data/small_convnet.json --input-shape 8,x,1"
  "profile with no steps|--steps '0'|profile --model $data/small_convnet.json --input-shape 8,8,1 --steps 0"
  "profile trace in a missing directory|/nonexistent-dir/t.json|profile --model $data/small_convnet.json --input-shape 8,8,1 --steps 1 --trace /nonexistent-dir/t.json"
  "profile unknown loss|unknown loss 'hamming'|profile --model $data/small_convnet.json --input-shape 8,8,1 --train --loss hamming"
  "profile unknown optimizer|unknown optimizer 'lbfgs'|profile --model $data/small_convnet.json --input-shape 8,8,1 --train --optimizer lbfgs"
  "profile labels impossible for the loss|no labels fit output 'flat_ids' i32[N,4]|profile --model $scratch/int_output.json --input-shape 4 --train --loss sparse_categorical_crossentropy"
  "profile loss without --train|--loss and --optimizer need --train|profile --model $data/small_convnet.json --input-shape 8,8,1 --loss mse"
  "unknown backend|--backend 'gpu'|eval --model $m.json --weights ${m}_weights.npz --input ${m}_x.npy --backend gpu --out $scratch/bad_out.npz"
)
for case in "${bad_cases[@]}"; do
  IFS='|' read -r name fragment command <<<"$case"
  # shellcheck disable=SC2086  # the command is a word list
  "$kiln" $command >/dev/null 2>"$scratch/err.txt"
  status=$?
  lines=$(wc -l <"$scratch/err.txt")
  message=$(head -n 1 "$scratch/err.txt")
  if [ "$status" -ne 1 ]; then
    fail "$name: exit status $status (expected 1): $message"
  elif [ "$lines" -ne 1 ] || [[ "$message" != "kiln: "* ]]; then
    fail "$name: expected one 'kiln: ...' line, got: $(cat "$scratch/err.txt")"
  elif [[ "$message" != *"$fragment"* ]]; then
    fail "$name: message does not mention '$fragment': $message"
  else
    echo "ok: $name -> $message"
  fi
done
[ -e "$scratch/bad_out.npz" ] && fail "a failed eval wrote its output file"

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "PASS: kiln CLI"
