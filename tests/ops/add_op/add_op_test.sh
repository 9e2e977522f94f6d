#!/usr/bin/env bash
# Proves the README's claim that adding a primitive op touches exactly two
# files: copies the source tree, adds ops/cube.cc and one line to
# ops/op_list.inc, checks that nothing else differs, rebuilds the
# conformance suite and runs it on the new op.
# Usage: add_op_test.sh SOURCE_DIR SCRATCH_DIR
set -euo pipefail
src=$1
scratch=$2
rm -rf "$scratch"
mkdir -p "$scratch/before" "$scratch/after"

# The source files (tracked and new, not ignored), twice.
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
  files=$(git -C "$src" ls-files --cached --others --exclude-standard)
else
  files=$(cd "$src" && find . -path './build*' -prune -o -type f -print)
fi
for tree in before after; do
  (cd "$src" && echo "$files" | tar cf - -T - 2>/dev/null) | tar xf - -C "$scratch/$tree"
done

# The change: one new file, one new line.
cp "$src/tests/ops/add_op/cube.cc.in" "$scratch/after/ops/cube.cc"
echo 'KILN_OP(kCubeOp, Tensor Cube(const Tensor& x, SourceLoc loc = SourceLoc::current()))' \
  >> "$scratch/after/ops/op_list.inc"

changed=$( (diff -rq "$scratch/before" "$scratch/after" || true) | wc -l)
if [ "$changed" -ne 2 ]; then
  echo "FAIL: expected exactly 2 changed files, got $changed"
  diff -rq "$scratch/before" "$scratch/after"
  exit 1
fi

# Only the baseline Highway target, to keep this build short.
cmake -S "$scratch/after" -B "$scratch/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS="-DHWY_COMPILE_ONLY_STATIC=1" \
  -DKILN_BUILD_BENCH=OFF -DKILN_BUILD_EXAMPLES=OFF >/dev/null
ninja -C "$scratch/build" ops_conformance_test >/dev/null
out=$("$scratch/build/tests/ops_conformance_test" --gtest_filter='*cube*' 2>&1) || {
  echo "$out"
  exit 1
}
passed=$(echo "$out" | grep -c '^\[       OK \] .*cube' || true)
echo "cube: $passed conformance tests passed"
[ "$passed" -ge 5 ] || { echo "$out"; exit 1; }
echo "PASS: adding an op touched 2 files and the suite picked it up"
