#!/usr/bin/env bash
# Regenerates every committed reference fixture under Tests/SpeechT5Tests/Fixtures from scratch.
# Needs only PyPI access (for the reference venv); all models are random and built locally.
#   scripts/make_fixtures.sh
# The outputs are deterministic for the pinned versions in setup_reference_env.sh.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
venv="$("$here/scripts/setup_reference_env.sh" | tail -n 1)"
py="$venv/bin/python"

run() {
  local script="$here/scripts/fixtures/$1"
  if [ -f "$script" ]; then
    echo "==> $1"
    "$py" "$script"
  else
    echo "==> $1 (absent, skipped)"
  fi
}

run train_spm.py             # tokenizer/spm_char*.model (needed by the two below)
run make_tokenizer_cases.py  # tokenizer cases
run make_model_fixtures.py   # models/<name>/..., dropout_vectors.json
run make_torch_fixtures.py   # torch/: pytorch_model.bin files, weight norm, hostile pickles
run make_frontend_cases.py   # frontend/: transformers' number normalizer outputs
run make_voice_fixtures.py   # voice/: speechbrain x-vector reference (needs speechbrain; see the script)
echo "fixtures: $(du -sh "$here/Tests/SpeechT5Tests/Fixtures" | cut -f1)"
