#!/usr/bin/env bash
# Quick start: installs what a fresh machine lacks, builds the engine in release mode and speaks a
# sentence to a WAV file.
#
#   scripts/quickstart.sh ["TEXT"] [MODEL_DIR VOCODER_DIR SPEAKER_FILE]
#
# Without model arguments it uses the small random-weight checkpoint committed under
# Tests/SpeechT5Tests/Fixtures (written by transformers' save_pretrained): the pipeline runs end to end
# but, the weights being random, the audio is noise, not speech.
set -euo pipefail
cd "$(dirname "$0")/.."
text="${1:-Hello there, this is SpeechT5 speaking from Swift.}"
fixture=Tests/SpeechT5Tests/Fixtures/models/odd
model="${2:-$fixture/model}"
vocoder="${3:-$fixture/vocoder}"
speaker="${4:-$fixture/speaker.npy}"
scripts/install_system_deps.sh
swift build -c release --product speecht5 2>&1 | tail -n 3
.build/release/speecht5 synthesize "$text" --model "$model" --vocoder "$vocoder" --speaker "$speaker" -o speech.wav
