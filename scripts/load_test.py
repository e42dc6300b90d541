#!/usr/bin/env python3
"""Load test for `speecht5 serve` (stdlib only: threads + http.client).

N concurrent clients POST /v1/audio/speech for M seconds (bounded in time and in count) against a
server on this machine's loopback, read each streamed response to the end, and report requests served,
failures (must be zero), p50/p99 latency and time to first byte, and the server's peak RSS (VmHWM from
/proc/<pid>/status), with RSS sampled over the run to show whether memory stays flat.

Either point it at a running server (--url and --pid) or let it start one (--binary, --model, --vocoder,
--speaker): it then starts `speecht5 serve --port 0`, reads the port it prints, and stops it at the end.

    scripts/load_test.py --binary .build/release/speecht5 \\
        --model M --vocoder V --speaker S.npy --clients 4 --duration 30

Some clients can be made to hang up mid-stream (--disconnect-every K: every K-th request of a client
reads its first audio and closes the connection); those count as abandoned, not as failures, and the
server's /metrics must then show the batch empty again.

Exit status: 0 when no request failed (and RSS growth stayed under --max-rss-growth-mb, if given).
"""
import argparse
import http.client
import ipaddress
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

TEXTS = [
    "Hello there.",
    "The quick brown fox jumps over the lazy dog.",
    "Streaming speech lets a listener hear the start of a sentence before its end has been made.",
    "It was a bright cold day in April, and the clocks were striking thirteen.",
    "Please call Stella. Ask her to bring these things with her from the store.",
    "A short one.",
]

MAX_DURATION = 1800      # seconds, hard cap whatever is asked
MAX_REQUESTS = 100_000   # hard cap on requests in one run


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def read_status_kb(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def check_loopback(host):
    if host == "localhost":
        return
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        sys.exit(f"load_test: {host} is not a loopback address; this script only targets 127.0.0.0/8 or ::1")
    if not address.is_loopback:
        sys.exit(f"load_test: {host} is not a loopback address; this script only targets 127.0.0.0/8 or ::1")


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies = []
        self.ttfbs = []
        self.failures = []
        self.abandoned = 0
        self.audio_bytes = 0
        self.statuses = {}
        self.started = 0

    def take_ticket(self, limit):
        with self.lock:
            if self.started >= limit:
                return False
            self.started += 1
            return True


def one_request(host, port, body, headers, timeout, abandon):
    """Returns (status, ttfb, latency, audio_bytes, error)."""
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("POST", "/v1/audio/speech", body=body, headers=headers)
        response = conn.getresponse()
        if response.status != 200:
            text = response.read()[:300]
            return response.status, None, time.perf_counter() - t0, 0, f"HTTP {response.status}: {text!r}"
        first = response.read(1)
        ttfb = time.perf_counter() - t0
        if not first:
            return 200, ttfb, time.perf_counter() - t0, 0, "empty body"
        if abandon:
            # Hang up mid-stream: close the socket without reading the rest.
            conn.sock.shutdown(socket.SHUT_RDWR)
            conn.close()
            return 200, ttfb, time.perf_counter() - t0, 1, "abandoned"
        rest = response.read()
        data = first + rest
        latency = time.perf_counter() - t0
        if len(data) <= 44 or data[:4] != b"RIFF":
            return 200, ttfb, latency, len(data), f"bad WAV body ({len(data)} bytes)"
        return 200, ttfb, latency, len(data) - 44, None
    except Exception as error:  # noqa: BLE001 - every exception is a failure to report
        return None, None, time.perf_counter() - t0, 0, f"{type(error).__name__}: {error}"
    finally:
        conn.close()


def client_loop(index, args, host, port, deadline, stats, headers):
    n = 0
    while time.monotonic() < deadline and stats.take_ticket(args.max_requests):
        text = TEXTS[(index + n) % len(TEXTS)] if not args.text else args.text
        payload = {"model": "tts-1", "input": text, "voice": args.voice, "response_format": "wav"}
        if args.seed is not None:
            payload["seed"] = args.seed
        n += 1
        abandon = args.disconnect_every > 0 and n % args.disconnect_every == 0
        status, ttfb, latency, nbytes, error = one_request(
            host, port, json.dumps(payload).encode(), headers, args.request_timeout, abandon)
        with stats.lock:
            stats.statuses[status] = stats.statuses.get(status, 0) + 1
            if error == "abandoned":
                stats.abandoned += 1
                stats.ttfbs.append(ttfb)
            elif error:
                stats.failures.append(error)
            else:
                stats.latencies.append(latency)
                stats.ttfbs.append(ttfb)
                stats.audio_bytes += nbytes


def fetch(host, port, path, headers, timeout=10):
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def metric_value(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def batch_mean(text):
    total = metric_value(text, "speecht5_batch_size_sum")
    count = metric_value(text, "speecht5_batch_size_count")
    return (total / count) if total is not None and count else None


def start_server(args):
    command = [args.binary, "serve", "--host", "127.0.0.1", "--port", "0", "--model", args.model,
               "--vocoder", args.vocoder, "--speaker", args.speaker, "--max-batch", str(args.max_batch),
               "--max-queue", str(args.max_queue)] + shlex.split(args.server_args or "")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 300
    port = None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if "listening on http://" in line:
            port = int(line.rsplit(":", 1)[1])
            break
    if port is None:
        process.kill()
        sys.exit("load_test: the server did not start")
    # Keep draining its stdout so it never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
    return process, port


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="a running server (loopback only)")
    parser.add_argument("--pid", type=int, help="the running server's pid, for its RSS")
    parser.add_argument("--binary", help="start this speecht5 binary instead (needs --model/--vocoder/--speaker)")
    parser.add_argument("--model")
    parser.add_argument("--vocoder")
    parser.add_argument("--speaker")
    parser.add_argument("--server-args", help="more arguments for the started server, e.g. '--threshold inf --max-len-ratio 3.5'")
    parser.add_argument("--max-batch", type=int, default=16)
    parser.add_argument("--max-queue", type=int, default=64)
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients")
    parser.add_argument("--duration", type=float, default=30, help="seconds to send requests for")
    parser.add_argument("--max-requests", type=int, default=10_000, help="stop after this many requests")
    parser.add_argument("--request-timeout", type=float, default=300)
    parser.add_argument("--text", help="speak this text in every request (default: a mix of sentences)")
    parser.add_argument("--voice", default="alloy")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--api-key", default=os.environ.get("SPEECHT5_API_KEY"))
    parser.add_argument("--disconnect-every", type=int, default=0,
                        help="every K-th request of each client hangs up after its first audio (0: never)")
    parser.add_argument("--rss-interval", type=float, default=1.0, help="seconds between RSS samples")
    parser.add_argument("--max-rss-growth-mb", type=float,
                        help="fail if RSS in the last quarter of the run exceeds the second quarter's by more")
    parser.add_argument("--json", help="also write the report as JSON to this file")
    args = parser.parse_args()

    args.duration = min(max(args.duration, 0.1), MAX_DURATION)
    args.max_requests = min(max(args.max_requests, 1), MAX_REQUESTS)
    args.clients = max(1, min(args.clients, 256))

    process = None
    if args.binary:
        if not (args.model and args.vocoder and args.speaker):
            sys.exit("load_test: --binary needs --model, --vocoder and --speaker")
        process, port = start_server(args)
        host, pid = "127.0.0.1", process.pid
    else:
        parsed = urllib.parse.urlparse(args.url)
        host, port, pid = parsed.hostname or "127.0.0.1", parsed.port or 80, args.pid
    check_loopback(host)

    headers = {"Content-Type": "application/json"}
    if args.api_key:
        headers["Authorization"] = f"Bearer {args.api_key}"
    try:
        status, health = fetch(host, port, "/health", headers)
        if status != 200:
            sys.exit(f"load_test: /health answered {status}")
        sample_rate = json.loads(health).get("sample_rate")
        rss_before = read_status_kb(pid, "VmRSS") if pid else None

        stats = Stats()
        rss_samples = []
        stop = threading.Event()

        def sample_rss():
            start = time.monotonic()
            while not stop.is_set():
                if pid:
                    value = read_status_kb(pid, "VmRSS")
                    if value is not None:
                        rss_samples.append((round(time.monotonic() - start, 2), value))
                stop.wait(args.rss_interval)

        sampler = threading.Thread(target=sample_rss, daemon=True)
        sampler.start()
        began = time.monotonic()
        deadline = began + args.duration
        threads = [threading.Thread(target=client_loop, args=(i, args, host, port, deadline, stats, headers))
                   for i in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=args.duration + args.request_timeout + 30)
        wall = time.monotonic() - began
        # Let cancelled work drain, then read the server's own view.
        time.sleep(1.0)
        stop.set()
        sampler.join(timeout=5)
        _, metrics = fetch(host, port, "/metrics", headers)
        peak = read_status_kb(pid, "VmHWM") if pid else None
        rss_after = read_status_kb(pid, "VmRSS") if pid else None
    finally:
        if process is not None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

    served = len(stats.latencies)
    growth = None
    if len(rss_samples) >= 8:
        quarter = len(rss_samples) // 4
        second = [v for _, v in rss_samples[quarter:2 * quarter]]
        last = [v for _, v in rss_samples[-quarter:]]
        growth = (sum(last) / len(last) - sum(second) / len(second)) / 1024.0
    report = {
        "clients": args.clients,
        "duration_s": round(wall, 2),
        "requests_served": served,
        "requests_abandoned": stats.abandoned,
        "failures": len(stats.failures),
        "failure_examples": stats.failures[:5],
        "statuses": {str(k): v for k, v in stats.statuses.items()},
        "requests_per_s": round(served / wall, 3) if wall > 0 else None,
        "latency_p50_s": round(percentile(stats.latencies, 50), 4),
        "latency_p99_s": round(percentile(stats.latencies, 99), 4),
        "ttfb_p50_s": round(percentile(stats.ttfbs, 50), 4),
        "ttfb_p99_s": round(percentile(stats.ttfbs, 99), 4),
        "audio_seconds_received": None,
        "server_peak_rss_mb": round(peak / 1024, 1) if peak else None,
        "server_rss_before_mb": round(rss_before / 1024, 1) if rss_before else None,
        "server_rss_after_mb": round(rss_after / 1024, 1) if rss_after else None,
        "server_rss_max_during_run_mb": round(max(v for _, v in rss_samples) / 1024, 1) if rss_samples else None,
        "rss_growth_last_vs_second_quarter_mb": round(growth, 1) if growth is not None else None,
        "rss_samples_mb": [(t, round(v / 1024, 1)) for t, v in rss_samples[:: max(1, len(rss_samples) // 20)]],
        "server_mean_batch_size": round(batch_mean(metrics), 2) if batch_mean(metrics) else None,
        "server_active_after": metric_value(metrics, "speecht5_active_requests"),
        "server_queue_depth_after": metric_value(metrics, "speecht5_queue_depth"),
    }
    if sample_rate:
        report["audio_seconds_received"] = round(stats.audio_bytes / 2 / sample_rate, 1)

    print(f"clients {args.clients}, {wall:.1f} s: {served} served, {stats.abandoned} abandoned on purpose, "
          f"{len(stats.failures)} failed")
    print(f"latency p50 {report['latency_p50_s']:.3f} s, p99 {report['latency_p99_s']:.3f} s; "
          f"time to first byte p50 {report['ttfb_p50_s']:.3f} s, p99 {report['ttfb_p99_s']:.3f} s")
    print(f"server peak RSS (VmHWM, model loading included) {report['server_peak_rss_mb']} MB; "
          f"max RSS sampled during the run {report['server_rss_max_during_run_mb']} MB (RSS {report['server_rss_before_mb']} → "
          f"{report['server_rss_after_mb']} MB; last vs second quarter {report['rss_growth_last_vs_second_quarter_mb']} MB); "
          f"mean batch {report['server_mean_batch_size']}; active after {report['server_active_after']}")
    for failure in stats.failures[:5]:
        print("  failure:", failure)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    ok = not stats.failures
    if args.max_rss_growth_mb is not None and growth is not None and growth > args.max_rss_growth_mb:
        print(f"RSS grew by {growth:.1f} MB > {args.max_rss_growth_mb} MB")
        ok = False
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
