#!/usr/bin/env bash
# Creates the Python virtual environment used ONLY to produce reference data (fixtures, parity checks,
# side-by-side benchmarks). CI never runs this: the fixtures it produces are committed.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="${SPEECHT5_REFERENCE_VENV:-$here/.venv-reference}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet \
  "torch==2.15.0" "transformers==5.24.0" "sentencepiece==0.2.3" "safetensors==0.8.0" "numpy<3" "scipy"
# speechbrain produces the voice-cloning references (scripts/fixtures/make_voice_fixtures.py). It pulls in
# torchaudio, whose newest PyPI build does not match torch 2.15 and breaks `import transformers`; speechbrain
# works without it for what the fixtures need (the script ports torchaudio's resampler), so it is removed.
"$venv/bin/pip" install --quiet "speechbrain==1.1.2"
"$venv/bin/pip" uninstall --quiet -y torchaudio || true
echo "$venv"
