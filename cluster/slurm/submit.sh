#!/bin/bash
# Run from the course folder: the array of shards, then the check once every task has ended.
# Arguments go to the array's sbatch (e.g. --array=0-49). Options every job needs (account,
# partition, QOS) go in SBATCH_ACCOUNT, SBATCH_PARTITION, SBATCH_QOS: sbatch reads them for both.
# To stop: scancel both ids (with the array alone cancelled, the check job starts and grades).
set -euo pipefail
here=$(dirname "$0")
mkdir -p logs
array=$(sbatch --parsable "$@" "$here/grade.sbatch")
if ! check=$(sbatch --parsable --dependency=afterany:"$array" "$here/check.sbatch"); then
    echo "submit.sh: array $array is queued but the check job was refused: fix that, then" \
        "sbatch --dependency=afterany:$array $here/check.sbatch (or scancel $array)" >&2
    exit 1
fi
echo "$array $check"
