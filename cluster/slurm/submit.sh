#!/bin/bash
# Run from the course folder: the array of shards, then the check once every task has ended.
set -euo pipefail
here=$(dirname "$0")
mkdir -p logs
array=$(sbatch --parsable "$@" "$here/grade.sbatch")
check=$(sbatch --parsable --dependency=afterany:"$array" "$here/check.sbatch")
echo "$array $check"
