#!/usr/bin/env bash
# Quick start: installs what a fresh machine lacks, builds the engine in release mode and speaks a
# sentence to speech.wav.
#
#   scripts/quickstart.sh ["TEXT"] [MODEL VOCODER SPEAKER_FILE]
#   scripts/quickstart.sh --hub ["TEXT"]
#
# Without model arguments it needs no network: it uses the small random-weight checkpoint committed under
# Tests/SpeechT5Tests/Fixtures (written by transformers' save_pretrained): the pipeline runs end to end
# but, the weights being random, the audio is noise, not speech. MODEL and VOCODER may be directories or
# hub repo ids. With --hub it runs `speecht5 say` with its defaults: microsoft/speecht5_tts,
# microsoft/speecht5_hifigan and the slt voice, downloaded into the Hugging Face cache on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
hub=0
if [[ "${1:-}" == "--hub" ]]; then
    hub=1
    shift
fi
text="${1:-Hello there, this is SpeechT5 speaking from Swift.}"
fixture=Tests/SpeechT5Tests/Fixtures/models/odd
model="${2:-$fixture/model}"
vocoder="${3:-$fixture/vocoder}"
speaker="${4:-$fixture/speaker.npy}"
scripts/install_system_deps.sh
swift build -c release --product speecht5 2>&1 | tail -n 3
if [[ $hub == 1 ]]; then
    .build/release/speecht5 say "$text" -o speech.wav
else
    extra=()
    # Random weights fire the stop token at once; on the fixture, run to the model's length limit instead.
    [[ "$model" == "$fixture/model" ]] && extra=(--threshold inf)
    .build/release/speecht5 say "$text" --model "$model" --vocoder "$vocoder" --speaker "$speaker" -o speech.wav "${extra[@]}"
fi
