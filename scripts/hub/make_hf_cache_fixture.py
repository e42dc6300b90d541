#!/usr/bin/env python3
"""Writes Tests/SpeechT5Tests/Fixtures/hub/hf_cache.tar: a cache filled by the real `huggingface_hub`.

It builds a small tree of repos, serves it with scripts/hub/fake_hub.py, lets `hf_hub_download` fetch a few
files (regular and LFS, a model and a dataset, two branches, one missing file) into an empty HF_HUB_CACHE,
and packs into one tar:

    repos/...         the tree the fake hub served (so a test can serve it again)
    hf_cache/...      the cache huggingface_hub wrote (blobs, refs, relative snapshot symlinks, .no_exist)
    manifest.json     what was downloaded: repo, revision, file, commit, sha256, size, snapshot path

The tar is deterministic (sorted, mtime 0, uid/gid 0), so re-running it gives the same bytes for the same
huggingface_hub version. Needs a Python with huggingface_hub (the reference venv); run it through
scripts/hub/make_hf_cache_fixture.sh.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import subprocess
import sys
import tarfile
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
OUTPUT = os.path.join(ROOT, "Tests", "SpeechT5Tests", "Fixtures", "hub", "hf_cache.tar")


def pseudo_random(count: int, seed: int) -> bytes:
    state = seed
    out = bytearray()
    while len(out) < count:
        state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        out.append((state >> 33) & 0xFF)
    return bytes(out)


def npy_float32(values: list[float]) -> bytes:
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d,), }" % len(values)
    total = 10 + len(header) + 1
    header += " " * ((64 - total % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + struct.pack("<%df" % len(values), *values)


def xvector_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for index, name in enumerate(["cmu_us_bdl_arctic-wav-arctic_a0009", "cmu_us_slt_arctic-wav-arctic_a0508"]):
            values = [((i * 7 + index * 13) % 17 - 8) / 64.0 for i in range(512)]
            info = zipfile.ZipInfo(f"spkrec-xvect/{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(info, npy_float32(values))
    return buffer.getvalue()


def write_tree(root: str) -> None:
    files = {
        ("models", "fakeorg/tiny-speecht5", "main"): {
            "config.json": b'{"model_type": "speecht5", "hidden_size": 8}\n',
            "model.safetensors": pseudo_random(1500, 1),
            "spm_char.model": pseudo_random(300, 2),
            "tokenizer_config.json": b'{"normalize": false}\n',
            "sub/notes.txt": b"nested file\n",
        },
        ("models", "fakeorg/tiny-speecht5", "v2"): {
            "config.json": b'{"model_type": "speecht5", "hidden_size": 16}\n',
        },
        ("datasets", "fakeorg/tiny-xvectors", "main"): {
            "spkrec-xvect.zip": xvector_zip(),
            "README.md": b"# tiny x-vectors\n",
        },
    }
    for (kind, repo_id, revision), content in files.items():
        for name, data in content.items():
            path = os.path.join(root, kind, *repo_id.split("/"), revision, *name.split("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(data)


DOWNLOADS = [
    ("model", "fakeorg/tiny-speecht5", "main", "config.json"),
    ("model", "fakeorg/tiny-speecht5", "main", "model.safetensors"),
    ("model", "fakeorg/tiny-speecht5", "main", "spm_char.model"),
    ("model", "fakeorg/tiny-speecht5", "main", "tokenizer_config.json"),
    ("model", "fakeorg/tiny-speecht5", "main", "sub/notes.txt"),
    ("model", "fakeorg/tiny-speecht5", "v2", "config.json"),
    ("dataset", "fakeorg/tiny-xvectors", "main", "spkrec-xvect.zip"),
]
MISSING = [("model", "fakeorg/tiny-speecht5", "main", "generation_config.json")]


def main() -> int:
    work = tempfile.mkdtemp(prefix="hf-cache-fixture-")
    repos = os.path.join(work, "repos")
    cache = os.path.join(work, "hf_cache")
    write_tree(repos)

    server = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "fake_hub.py"), "--root", repos, "--exit-on-stdin-eof"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        port = int(server.stdout.readline())
        os.environ.update({
            "HF_ENDPOINT": f"http://127.0.0.1:{port}",
            "HF_HUB_CACHE": cache,
            "HF_HOME": os.path.join(work, "hf_home"),
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "HF_HUB_DISABLE_XET": "1",
        })
        os.environ.pop("HF_TOKEN", None)
        import huggingface_hub  # imported after the environment is set: it reads it at import time
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError

        manifest = {"huggingface_hub_version": huggingface_hub.__version__, "downloads": [], "missing": []}
        for repo_type, repo_id, revision, filename in DOWNLOADS:
            path = hf_hub_download(repo_id, filename, repo_type=repo_type, revision=revision)
            with open(path, "rb") as handle:
                data = handle.read()
            relative = os.path.relpath(path, cache)
            commit = relative.split(os.sep)[2]
            manifest["downloads"].append({
                "repo_type": repo_type, "repo_id": repo_id, "revision": revision, "filename": filename,
                "commit": commit, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                "path": relative, "link": os.readlink(path),
            })
        for repo_type, repo_id, revision, filename in MISSING:
            try:
                hf_hub_download(repo_id, filename, repo_type=repo_type, revision=revision)
                raise SystemExit(f"{filename} should be missing")
            except EntryNotFoundError:
                manifest["missing"].append({"repo_type": repo_type, "repo_id": repo_id, "revision": revision,
                                            "filename": filename})
    finally:
        server.stdin.close()
        server.wait(timeout=10)

    with open(os.path.join(work, "manifest.json"), "w") as handle:
        json.dump(manifest, handle, indent=2, sort_keys=True)
        handle.write("\n")

    def normalize(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.mtime = 0
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        if info.isdir():
            info.mode = 0o755
        elif info.isfile():
            info.mode = 0o644
        return info

    os.makedirs(os.path.dirname(OUTPUT), exist_ok=True)
    with tarfile.open(OUTPUT, "w", format=tarfile.GNU_FORMAT) as archive:
        for top in ("manifest.json", "repos", "hf_cache"):
            base = os.path.join(work, top)
            entries = [base]
            for directory, subdirectories, files in os.walk(base):
                subdirectories.sort()
                for name in sorted(subdirectories + files):
                    entries.append(os.path.join(directory, name))
            for path in sorted(set(entries)):
                archive.add(path, arcname=os.path.relpath(path, work), recursive=False, filter=normalize)
    print(f"wrote {os.path.relpath(OUTPUT, ROOT)} ({os.path.getsize(OUTPUT)} bytes, huggingface_hub "
          f"{manifest['huggingface_hub_version']})")
    subprocess.run(["rm", "-rf", work], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
