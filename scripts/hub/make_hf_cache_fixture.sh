#!/usr/bin/env bash
# Regenerates Tests/SpeechT5Tests/Fixtures/hub/hf_cache.tar: a cache written by the real huggingface_hub
# downloading from scripts/hub/fake_hub.py (see make_hf_cache_fixture.py). Needs a Python with
# huggingface_hub: the reference venv (scripts/setup_reference_env.sh) or PYTHON=/path/to/python.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-.venv-reference/bin/python}"
if ! "$PYTHON" -c "import huggingface_hub" 2>/dev/null; then
    echo "error: $PYTHON cannot import huggingface_hub (run scripts/setup_reference_env.sh or set PYTHON)" >&2
    exit 1
fi
exec "$PYTHON" scripts/hub/make_hf_cache_fixture.py "$@"
