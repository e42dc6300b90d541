#!/usr/bin/env python3
"""Drives a running `speecht5 serve` with the official `openai` Python client.

    openai_client_check.py --base-url http://127.0.0.1:PORT/v1 [--api-key KEY]

Exits 0 when every check passes, 1 on a failure, and 77 (skip) when the `openai` package is not
importable (CI does not install it). Run by SpeechT5ServerTests.OpenAIClientTests, or by hand.
"""
import argparse
import struct
import sys

try:
    import openai
except ImportError:
    print("skip: the openai package is not importable")
    sys.exit(77)


def check(condition, message):
    if not condition:
        raise AssertionError(message)
    print("ok:", message)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", default="unused")
    args = parser.parse_args()
    print("openai", openai.__version__)
    client = openai.OpenAI(base_url=args.base_url, api_key=args.api_key, max_retries=0, timeout=60)

    ids = [model.id for model in client.models.list()]
    check("speecht5" in ids and "tts-1" in ids, f"models.list() lists speecht5 and tts-1: {ids}")

    # The whole WAV in one call, with an OpenAI preset voice name (an alias of the default voice).
    speech = client.audio.speech.create(model="tts-1", voice="alloy", input="Hello from the OpenAI client.",
                                        response_format="wav")
    data = speech.read()
    check(data[:4] == b"RIFF" and data[8:12] == b"WAVE", f"speech.create returns a WAV ({len(data)} bytes)")
    sample_rate = struct.unpack("<I", data[24:28])[0]
    check(sample_rate == int(speech.response.headers["x-sample-rate"]),
          f"the WAV header's rate {sample_rate} matches X-Sample-Rate")

    # Streaming raw PCM chunk by chunk, with a seed passed through extra_body.
    chunks = []
    with client.audio.speech.with_streaming_response.create(
            model="tts-1", voice="default", input="Streaming, one piece at a time. And a second sentence.",
            response_format="pcm", extra_body={"seed": 3}) as response:
        check(response.headers["content-type"] == "audio/pcm", "pcm content type")
        for chunk in response.iter_bytes(chunk_size=1024):
            chunks.append(chunk)
    pcm = b"".join(chunks)
    check(len(pcm) > 0 and len(pcm) % 2 == 0, f"streamed pcm: {len(pcm)} bytes in {len(chunks)} reads")

    # Same seed, same audio.
    again = client.audio.speech.create(model="tts-1", voice="default", response_format="pcm",
                                       input="Streaming, one piece at a time. And a second sentence.",
                                       extra_body={"seed": 3}).read()
    check(again == pcm, "the same seed gives the same audio")

    # Errors surface as the client's typed exceptions with the server's message.
    try:
        client.audio.speech.create(model="tts-1", voice="alloy", input="mp3 please", response_format="mp3")
        check(False, "mp3 is refused")
    except openai.BadRequestError as error:
        check(error.status_code == 400 and "wav, pcm" in str(error), f"mp3 → BadRequestError: {error}")
        check(error.body.get("param") == "response_format" if isinstance(error.body, dict) else True,
              "the error names the param")
    try:
        client.audio.speech.create(model="tts-1", voice="nobody", input="hi")
        check(False, "an unknown voice is refused")
    except openai.BadRequestError as error:
        check("unknown voice" in str(error), f"unknown voice → BadRequestError: {error}")
    try:
        client.audio.speech.create(model="tts-1", voice="alloy", input="")
        check(False, "empty input is refused")
    except openai.BadRequestError as error:
        check("empty" in str(error), f"empty input → BadRequestError: {error}")
    try:
        client.audio.speech.create(model="tts-1", voice="alloy", input="hi", speed=2.0)
        check(False, "speed 2 is refused")
    except openai.BadRequestError as error:
        check("speed" in str(error), f"speed 2.0 → BadRequestError: {error}")

    if args.api_key != "unused":
        wrong = openai.OpenAI(base_url=args.base_url, api_key="wrong-key", max_retries=0, timeout=30)
        try:
            wrong.models.list()
            check(False, "a wrong key is refused")
        except openai.AuthenticationError as error:
            check(error.status_code == 401, f"wrong key → AuthenticationError: {error}")
    print("all openai client checks passed")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as failure:
        print("FAILED:", failure)
        sys.exit(1)
