#!/usr/bin/env python3
"""A local stand-in for the Hugging Face hub's file endpoints, for tests (Python stdlib only).

It serves a directory tree of repositories::

    ROOT/models/ORG/NAME/REVISION/<files>      (model repos)
    ROOT/datasets/ORG/NAME/REVISION/<files>    (dataset repos)

REVISION is a branch or tag name (its commit id is derived from the directory's contents, so it is
stable) or a 40-hex commit id (used as is). A request may name a revision by either. Marker files in
ROOT/{models,datasets}/ORG/NAME/ change how a repo answers:

    .private     every request needs ``Authorization: Bearer TOKEN``
    .gated       like .private, but the 401 says GatedRepo
    .moved-to    holds another repo id: requests are redirected there with a relative 307
    .refs.json   {"refs/pr/1": "pr1"}: more names (they may hold slashes) for revision directories

It answers the way huggingface.co does for ``HEAD``/``GET {endpoint}/[datasets/]ORG/NAME/resolve/REV/PATH``:

* small text files ("regular" git files): 200 with ``X-Repo-Commit``, ``ETag: "<git blob sha1>"``,
  ``Content-Length``; ``Range`` requests get 206. With ``--resolve-cache``, a request by branch name is
  first redirected (307, relative) to ``/api/resolve-cache/...`` as the real hub does.
* "LFS" files (an LFS extension, or larger than ``--lfs-threshold``): 302 to another origin (a second
  port on 127.0.0.1 playing the CDN, ``/lfs-store/<sha256>``) with ``X-Linked-Etag: "<sha256>"``,
  ``X-Linked-Size``, ``X-Repo-Commit``; the ETag of the redirect itself is the LFS pointer's git sha1.
* errors: 404 + ``X-Error-Code`` RepoNotFound / RevisionNotFound / EntryNotFound, 401 for private
  repos without a valid token (RepoNotFound, as the real hub hides them), 401 "Invalid credentials in
  Authorization header" for a wrong token.

Faults for tests: ``--cut-once`` closes the connection halfway through the first body of every file
(later requests, e.g. with ``Range``, succeed), ``--corrupt NAME`` serves a file with one byte flipped
(the headers keep the true hashes), ``--throttle S`` sleeps S seconds per ``--chunk-size`` bytes.

``GET /_fake/requests`` returns the request log (JSON list; both origins), ``POST /_fake/reset``
clears it. The first line on stdout is the hub's port. With ``--exit-on-stdin-eof`` the server stops
when its stdin closes (so a crashed test leaves nothing behind).

    python3 scripts/hub/fake_hub.py --root DIR [--port 0] [--token hf_fake_token]
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import json
import os
import re
import socket
import sys
import threading
import time
import urllib.parse

LFS_EXTENSIONS = {
    ".bin", ".safetensors", ".model", ".zip", ".npy", ".npz", ".pt", ".pth", ".ckpt", ".h5", ".onnx",
    ".msgpack", ".tar", ".gz", ".tgz", ".wav", ".flac", ".mp3", ".ogg", ".arrow", ".parquet", ".pkl",
    ".pickle", ".tflite", ".ot", ".joblib", ".7z", ".bz2", ".xz", ".zst", ".gguf",
}
COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")


class FileInfo:
    """Sizes and hashes of one served file, cached by (path, size, mtime)."""

    __slots__ = ("path", "size", "git_sha1", "sha256", "is_lfs")

    def __init__(self, path: str, threshold: int):
        self.path = path
        self.size = os.path.getsize(path)
        git_sha1 = hashlib.sha1(b"blob %d\0" % self.size)
        sha256 = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                git_sha1.update(chunk)
                sha256.update(chunk)
        self.git_sha1 = git_sha1.hexdigest()
        self.sha256 = sha256.hexdigest()
        extension = os.path.splitext(path)[1].lower()
        self.is_lfs = extension in LFS_EXTENSIONS or self.size > threshold

    def pointer_sha1(self) -> str:
        """The git blob id of the LFS pointer file that git would store instead of the content."""
        pointer = (
            "version https://git-lfs.github.com/spec/v1\n"
            f"oid sha256:{self.sha256}\nsize {self.size}\n"
        ).encode()
        return hashlib.sha1(b"blob %d\0" % len(pointer) + pointer).hexdigest()


class Hub:
    """State shared by both origins: the tree, the caches, the faults and the request log."""

    def __init__(self, args: argparse.Namespace):
        self.root = os.path.abspath(args.root)
        self.token = args.token
        self.threshold = args.lfs_threshold
        self.resolve_cache = args.resolve_cache
        self.hide_unknown_repos = args.hide_unknown_repos
        self.cut_once = args.cut_once
        self.cut_fraction = args.cut_fraction
        self.corrupt = set(args.corrupt or [])
        self.throttle = args.throttle
        self.chunk_size = max(1, args.chunk_size)
        self.lfs_same_origin = args.lfs_same_origin
        self.lock = threading.Lock()
        self.log: list[dict] = []
        self.cut_done: set[str] = set()
        self.info_cache: dict[tuple, FileInfo] = {}
        self.cdn_origin = ""  # set once the CDN server is bound
        self.hub_origin = ""

    # --- tree -------------------------------------------------------------------------------

    def file_info(self, path: str) -> FileInfo:
        stat = os.stat(path)
        key = (path, stat.st_size, stat.st_mtime_ns)
        with self.lock:
            info = self.info_cache.get(key)
        if info is None:
            info = FileInfo(path, self.threshold)
            with self.lock:
                self.info_cache[key] = info
        return info

    def repo_dir(self, repo_type: str, repo_id: str) -> str | None:
        if not repo_id or any(part in ("", ".", "..") for part in repo_id.split("/")):
            return None
        directory = os.path.join(self.root, repo_type + "s", *repo_id.split("/"))
        return directory if os.path.isdir(directory) else None

    def revisions(self, repo_dir: str) -> dict[str, str]:
        """Maps every name a revision answers to (branch name and commit id) to its directory."""
        names: dict[str, str] = {}
        for entry in sorted(os.listdir(repo_dir)):
            directory = os.path.join(repo_dir, entry)
            if entry.startswith(".") or not os.path.isdir(directory):
                continue
            names[entry] = directory
            names[self.commit_of(repo_dir, entry)] = directory
        aliases = os.path.join(repo_dir, ".refs.json")
        if os.path.isfile(aliases):
            with open(aliases) as handle:
                for alias, target in json.load(handle).items():
                    if target in names:
                        names[alias] = names[target]
        return names

    def commit_of(self, repo_dir: str, revision_dir_name: str) -> str:
        if COMMIT_RE.match(revision_dir_name):
            return revision_dir_name
        digest = hashlib.sha1()
        digest.update(os.path.relpath(repo_dir, self.root).encode() + b"\0" + revision_dir_name.encode() + b"\0")
        base = os.path.join(repo_dir, revision_dir_name)
        for relative in self.list_files(base):
            digest.update(relative.encode() + b"\0" + self.file_info(os.path.join(base, relative)).git_sha1.encode())
        return digest.hexdigest()

    @staticmethod
    def list_files(base: str) -> list[str]:
        found = []
        for directory, subdirectories, files in os.walk(base):
            subdirectories.sort()
            for name in sorted(files):
                found.append(os.path.relpath(os.path.join(directory, name), base).replace(os.sep, "/"))
        return found

    def find_blob(self, sha256: str) -> FileInfo | None:
        for directory, _, files in os.walk(self.root):
            for name in files:
                info = self.file_info(os.path.join(directory, name))
                if info.sha256 == sha256:
                    return info
        return None

    # --- faults -----------------------------------------------------------------------------

    def should_cut(self, key: str) -> bool:
        if not self.cut_once:
            return False
        with self.lock:
            if key in self.cut_done:
                return False
            self.cut_done.add(key)
            return True

    def record(self, entry: dict) -> None:
        with self.lock:
            self.log.append(entry)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeHub/1.0"
    hub: Hub
    role = "hub"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - keep stderr quiet
        if os.environ.get("FAKE_HUB_VERBOSE"):
            sys.stderr.write("fake_hub %s: %s\n" % (self.role, format % args))

    # --- plumbing ---------------------------------------------------------------------------

    def do_HEAD(self) -> None:
        self.dispatch(send_body=False)

    def do_GET(self) -> None:
        self.dispatch(send_body=True)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path == "/_fake/reset":
            with self.hub.lock:
                self.hub.log.clear()
                self.hub.cut_done.clear()
            self.reply(200, {"Content-Type": "application/json"}, b"{}", True)
        else:
            self.reply(405, {}, b"", True)

    def dispatch(self, send_body: bool) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        self.hub.record({
            "server": self.role,
            "method": self.command,
            "path": parsed.path,
            "host": self.headers.get("Host"),
            "range": self.headers.get("Range"),
            "authorization": self.headers.get("Authorization"),
        })
        try:
            if parsed.path == "/_fake/requests":
                with self.hub.lock:
                    body = json.dumps(self.hub.log).encode()
                return self.reply(200, {"Content-Type": "application/json"}, body, send_body)
            if parsed.path.startswith("/lfs-store/"):
                return self.serve_lfs_store(parsed.path[len("/lfs-store/"):], send_body)
            if self.role != "hub":
                return self.reply(404, {}, b"Not Found", send_body)
            if parsed.path.startswith("/api/resolve-cache/"):
                return self.serve_resolve_cache(parsed.path, send_body)
            if "/resolve/" in parsed.path:
                return self.serve_resolve(parsed.path, send_body)
            return self.reply(404, {}, b"Not Found", send_body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def reply(self, status: int, headers: dict, body: bytes, send_body: bool) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body and body:
            self.wfile.write(body)

    def error(self, status: int, code: str | None, message: str, send_body: bool, extra: dict | None = None) -> None:
        headers = {"Content-Type": "application/json", "X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        headers.update(extra or {})
        self.reply(status, headers, json.dumps({"error": message}).encode(), send_body)

    def token_state(self) -> str:
        header = self.headers.get("Authorization")
        if not header:
            return "none"
        return "valid" if header == f"Bearer {self.hub.token}" else "invalid"

    # --- /resolve ---------------------------------------------------------------------------

    def serve_resolve(self, path: str, send_body: bool) -> None:
        prefix, _, rest = path.partition("/resolve/")
        prefix = prefix.strip("/")
        repo_type = "model"
        if prefix.startswith("datasets/"):
            repo_type, prefix = "dataset", prefix[len("datasets/"):]
        elif prefix.startswith("spaces/"):
            repo_type, prefix = "space", prefix[len("spaces/"):]
        repo_id = urllib.parse.unquote(prefix)
        revision_quoted, _, file_quoted = rest.partition("/")
        revision = urllib.parse.unquote(revision_quoted)
        filename = urllib.parse.unquote(file_quoted)
        self.serve_file(repo_type, repo_id, revision, filename, send_body, via_cache=False)

    def serve_resolve_cache(self, path: str, send_body: bool) -> None:
        parts = path[len("/api/resolve-cache/"):].split("/")
        if len(parts) < 5:
            return self.reply(404, {}, b"Not Found", send_body)
        type_plural, org, name, commit = parts[0], parts[1], parts[2], parts[3]
        filename = urllib.parse.unquote("/".join(parts[4:]))
        self.serve_file(type_plural.rstrip("s"), f"{org}/{name}", commit, filename, send_body, via_cache=True)

    def serve_file(self, repo_type: str, repo_id: str, revision: str, filename: str, send_body: bool,
                   via_cache: bool) -> None:
        hub = self.hub
        repo_dir = hub.repo_dir(repo_type, repo_id)
        token = self.token_state()
        if token == "invalid":
            return self.error(401, None, "Invalid credentials in Authorization header", send_body)
        if repo_dir is None:
            if hub.hide_unknown_repos and token == "none":
                return self.error(401, "RepoNotFound", "Invalid username or password.", send_body)
            return self.error(404, "RepoNotFound", "Repository not found", send_body)
        moved = os.path.join(repo_dir, ".moved-to")
        if os.path.isfile(moved):
            with open(moved) as handle:
                target = handle.read().strip()
            type_prefix = "" if repo_type == "model" else repo_type + "s/"
            location = "/" + type_prefix + target + "/resolve/" + urllib.parse.quote(revision, safe="") + "/" + \
                urllib.parse.quote(filename)
            return self.reply(307, {"Location": location}, b"", send_body)
        if os.path.exists(os.path.join(repo_dir, ".private")) and token != "valid":
            return self.error(401, "RepoNotFound", "Invalid username or password.", send_body)
        if os.path.exists(os.path.join(repo_dir, ".gated")) and token != "valid":
            return self.error(401, "GatedRepo",
                              f"Access to {repo_type} {repo_id} is restricted. You must have access to it and be "
                              "authenticated to access it. Please log in.", send_body)
        revisions = hub.revisions(repo_dir)
        revision_dir = revisions.get(revision)
        if revision_dir is None:
            return self.error(404, "RevisionNotFound", f"Invalid rev id: {revision}", send_body)
        commit = hub.commit_of(repo_dir, os.path.basename(revision_dir))
        parts = filename.split("/")
        full = os.path.join(revision_dir, *parts)
        if not filename or any(part in ("", ".", "..") for part in parts) or not os.path.isfile(full):
            return self.error(404, "EntryNotFound", f"{filename} does not exist on \"{revision}\"", send_body,
                              {"X-Repo-Commit": commit})
        info = hub.file_info(full)
        common = {"X-Repo-Commit": commit, "Accept-Ranges": "bytes", "Access-Control-Expose-Headers":
                  "X-Repo-Commit,X-Linked-Etag,X-Linked-Size,ETag"}
        if info.is_lfs:
            if hub.lfs_same_origin:
                location = f"{hub.hub_origin}/lfs-store/{info.sha256}?sig=fake"
            else:
                location = f"{hub.cdn_origin}/lfs-store/{info.sha256}?sig=fake"
            body = f"Found. Redirecting to {location}".encode()
            headers = dict(common)
            headers.update({
                "Location": location,
                "ETag": f'"{info.pointer_sha1()}"',
                "X-Linked-Etag": f'"{info.sha256}"',
                "X-Linked-Size": str(info.size),
                "Content-Type": "text/plain; charset=utf-8",
            })
            return self.reply(302, headers, body, send_body)
        if hub.resolve_cache and not via_cache and revision != commit:
            type_plural = repo_type + "s"
            location = (f"/api/resolve-cache/{type_plural}/{repo_id}/{commit}/{urllib.parse.quote(filename)}"
                        f"?etag=%22{info.git_sha1}%22")
            headers = dict(common)
            headers.update({"Location": location, "ETag": f'"{info.git_sha1}"'})
            return self.reply(307, headers, b"", send_body)
        headers = dict(common)
        headers.update({"ETag": f'"{info.git_sha1}"', "Content-Type": "application/octet-stream"})
        self.send_content(info, headers, send_body)

    # --- /lfs-store (the "CDN") -------------------------------------------------------------

    def serve_lfs_store(self, sha_and_query: str, send_body: bool) -> None:
        sha256 = sha_and_query.split("?")[0]
        info = self.hub.find_blob(sha256) if re.fullmatch(r"[0-9a-f]{64}", sha256) else None
        if info is None:
            return self.reply(404, {"Content-Type": "application/xml"}, b"<Error>NoSuchKey</Error>", send_body)
        headers = {"ETag": f'"{info.sha256}"', "Content-Type": "application/octet-stream",
                   "Accept-Ranges": "bytes"}
        self.send_content(info, headers, send_body)

    # --- bodies -----------------------------------------------------------------------------

    def send_content(self, info: FileInfo, headers: dict, send_body: bool) -> None:
        size = info.size
        start, end, status = 0, size, 200
        range_header = self.headers.get("Range")
        if range_header:
            match = re.fullmatch(r"bytes=(\d+)-(\d*)", range_header.strip())
            if match is None or int(match.group(1)) >= size > 0 or (size == 0 and int(match.group(1)) > 0):
                return self.reply(416, {"Content-Range": f"bytes */{size}"}, b"", send_body)
            start = int(match.group(1))
            if match.group(2):
                end = min(size, int(match.group(2)) + 1)
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        headers["Content-Length"] = str(end - start)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if not send_body:
            return
        length = end - start
        cut = length >= 2 and self.hub.should_cut(info.sha256)
        limit = max(1, int(length * self.hub.cut_fraction)) if cut else length
        corrupt = os.path.basename(info.path) in self.hub.corrupt
        sent = 0
        with open(info.path, "rb") as handle:
            handle.seek(start)
            while sent < limit:
                chunk = handle.read(min(self.hub.chunk_size, limit - sent))
                if not chunk:
                    break
                if corrupt and start + sent == 0:
                    chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
                self.wfile.write(chunk)
                self.wfile.flush()
                sent += len(chunk)
                if self.hub.throttle:
                    time.sleep(self.hub.throttle)
        if cut:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_server(hub: Hub, role: str, port: int) -> Server:
    handler = type(f"{role.capitalize()}Handler", (Handler,), {"hub": hub, "role": role})
    return Server(("127.0.0.1", port), handler)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True, help="directory holding models/ and datasets/")
    parser.add_argument("--port", type=int, default=0, help="hub port (0: a free one)")
    parser.add_argument("--token", default="hf_fake_token", help="the token private repos accept")
    parser.add_argument("--lfs-threshold", type=int, default=10 * 1024 * 1024,
                        help="files larger than this are LFS even without an LFS extension")
    parser.add_argument("--lfs-same-origin", action="store_true",
                        help="redirect LFS files to /lfs-store on the hub's own origin instead of the CDN port")
    parser.add_argument("--resolve-cache", action="store_true",
                        help="redirect regular files requested by branch to /api/resolve-cache/... first")
    parser.add_argument("--hide-unknown-repos", action="store_true",
                        help="answer 401 RepoNotFound (not 404) for unknown repos when no token is sent")
    parser.add_argument("--cut-once", action="store_true", help="cut the first body of every file halfway")
    parser.add_argument("--cut-fraction", type=float, default=0.5, help="where --cut-once cuts (0..1)")
    parser.add_argument("--corrupt", action="append", metavar="NAME", help="flip a byte when serving NAME")
    parser.add_argument("--throttle", type=float, default=0.0, help="seconds to sleep per chunk")
    parser.add_argument("--chunk-size", type=int, default=64 * 1024, help="bytes per write")
    parser.add_argument("--exit-on-stdin-eof", action="store_true", help="stop when stdin closes")
    args = parser.parse_args()

    hub = Hub(args)
    hub_server = make_server(hub, "hub", args.port)
    cdn_server = make_server(hub, "cdn", 0)
    hub.hub_origin = f"http://127.0.0.1:{hub_server.server_address[1]}"
    hub.cdn_origin = f"http://127.0.0.1:{cdn_server.server_address[1]}"
    for server in (hub_server, cdn_server):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(hub_server.server_address[1], flush=True)
    sys.stderr.write(f"fake_hub: serving {hub.root} at {hub.hub_origin} (LFS store at {hub.cdn_origin})\n")
    try:
        if args.exit_on_stdin_eof:
            while sys.stdin.buffer.read(1024):
                pass
        else:
            threading.Event().wait()
    except KeyboardInterrupt:
        pass
    # The serving threads are daemons; leaving at once spares serve_forever's half-second shutdown poll.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
