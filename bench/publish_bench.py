#!/usr/bin/env python3
"""Times `envdash publish` against `aws s3 sync` on one local moto S3 server.

Called by bench/publish.sh, which makes the virtualenv and the release build.
Phases, each run by both tools on the same site folder, into two buckets:

  first      an empty bucket: every file is uploaded
  unchanged  the site rendered again with the same content (every file rewritten,
             as a render does, so every mtime is new)
  10% pages  the site rendered again with 10 % of the environments changed (their
             pages, index.html and status.json differ)
  untouched  no render at all since the last sync (mtimes kept): a reference for
             what `aws s3 sync` costs when it can trust timestamps

PUTs are counted from moto_server's request log between runs.
"""

import argparse
import json
import os
import random
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ACCESS_KEY = "bench"
SECRET_KEY = "bench-secret"
REGION = "us-east-1"


def write_site(site: Path, pages: int, changed_every: int | None) -> None:
    """Writes every file of the site, as a render does. Page i has 3-10 KB of HTML;
    when `changed_every` is set, every such page shows one container more as exited."""
    site.mkdir(parents=True, exist_ok=True)
    envs = []
    for i in range(pages):
        rnd = random.Random(i)
        name = f"env-{i:04d}"
        containers = rnd.randint(12, 45)
        down = 1 if changed_every and i % changed_every == 0 else 0
        rows = []
        for c in range(containers):
            state = "Exited (137) 2 minutes ago" if c < down else f"Up {rnd.randint(1, 9)} weeks"
            rows.append(
                f"<tr><td>app-{c}.{name}.example.io</td><td>svc-{c}</td><td>{state}</td>"
                f"<td>registry.example.io/team/svc-{c}:{rnd.randint(1, 300)}</td></tr>"
            )
        status = "problem" if down else "ok"
        body = (
            f"<!doctype html><html><head><meta charset=utf-8><title>{name}</title></head><body>"
            f"<h1>{name}</h1><p class={status}>{status}</p><table>\n" + "\n".join(rows) + "\n</table></body></html>\n"
        )
        (site / f"{name}.html").write_text(body)
        envs.append({"name": name, "page": f"{name}.html", "status": status, "containers": containers, "down": down})
    (site / "status.json").write_text(json.dumps({"environments": envs}) + "\n")
    cards = "\n".join(f'<a class={e["status"]} href="{e["page"]}">{e["name"]}</a>' for e in envs)
    (site / "index.html").write_text(f"<!doctype html><title>all</title><body>\n{cards}\n</body>\n")
    # A render leaves its manifest beside the pages: envdash skips hidden files.
    (site / ".envdash-manifest").write_text("\n".join(e["page"] for e in envs) + "\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class Moto:
    def __init__(self, moto: str, log: Path):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self.log = open(log, "w")
        self.proc = subprocess.Popen(
            [moto, "-H", "127.0.0.1", "-p", str(self.port)], stdout=self.log, stderr=subprocess.STDOUT
        )
        wait_for(self.endpoint + "/moto-api/", 30)

    def mark(self) -> int:
        self.log.flush()
        return self.log_path.stat().st_size

    def requests_since(self, mark: int, bucket: str) -> dict:
        time.sleep(0.2)  # let moto write its last log lines
        with open(self.log_path, "rb") as f:
            f.seek(mark)
            lines = f.read().decode(errors="replace").splitlines()
        counts: dict = {}
        for line in lines:
            for method in ("GET", "HEAD", "PUT", "POST", "DELETE"):
                if f'"{method} /{bucket}' in line:
                    counts[method] = counts.get(method, 0) + 1
        return counts

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--envdash", required=True)
    ap.add_argument("--aws", required=True)
    ap.add_argument("--moto", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--pages", type=int, default=1000)
    args = ap.parse_args()

    work = Path(args.work)
    site = work / "site"
    if site.exists():
        for p in sorted(site.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
    env = dict(os.environ)
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "ENVDASH_BUCKET"):
        env.pop(var, None)
    env.update(
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=str(work / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(work / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    moto = Moto(args.moto, work / "moto.log")
    try:
        aws = [args.aws, "--endpoint-url", moto.endpoint]
        for bucket in ("bench-envdash", "bench-aws"):
            subprocess.run(aws + ["s3", "mb", f"s3://{bucket}"], env=env, check=True, capture_output=True)

        def run_envdash() -> tuple[float, dict, str]:
            mark = moto.mark()
            cmd = [args.envdash, "publish", "--site", str(site), "--bucket", "bench-envdash", "--prefix", "dash"]
            cmd += ["--endpoint-url", moto.endpoint, "--path-style"]
            t0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
            out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
            seconds, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
            return seconds, moto.requests_since(mark, "bench-envdash"), f"{out.stdout.strip()}; {cpu:.2f} s CPU"

        def run_aws() -> tuple[float, dict, str]:
            mark = moto.mark()
            cmd = aws + ["s3", "sync", str(site), "s3://bench-aws/dash", "--no-progress", "--only-show-errors"]
            t0 = time.perf_counter()
            subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
            seconds = time.perf_counter() - t0
            return seconds, moto.requests_since(mark, "bench-aws"), ""

        phases = [
            ("first upload", lambda: write_site(site, args.pages, None)),
            ("unchanged (re-rendered)", lambda: write_site(site, args.pages, None)),
            ("10% pages changed", lambda: write_site(site, args.pages, 10)),
            ("untouched (no render)", lambda: None),
        ]
        rows = []
        for name, render in phases:
            render()
            e_s, e_req, e_out = run_envdash()
            a_s, a_req, _ = run_aws()
            print(f"{name}: envdash {e_s:.2f} s {e_req} [{e_out}]; aws s3 sync {a_s:.2f} s {a_req}", file=sys.stderr)
            rows.append((name, e_s, a_s, e_req.get("PUT", 0), a_req.get("PUT", 0)))

        # Both buckets must now hold the same bytes: envdash's own diff against aws's bucket.
        check = subprocess.run(
            [args.envdash, "publish", "--site", str(site), "--bucket", "bench-aws", "--prefix", "dash"]
            + ["--endpoint-url", moto.endpoint, "--path-style", "--dry-run"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip().splitlines()[-1]
    finally:
        moto.stop()

    files = sum(1 for p in site.rglob("*") if p.is_file() and not p.name.startswith("."))
    print(f"\nsite: {args.pages} pages + index.html + status.json = {files} files, "
          f"{sum(p.stat().st_size for p in site.rglob('*') if p.is_file()) / 1e6:.1f} MB; "
          f"server: moto_server on 127.0.0.1")
    print(f"{'phase':<26} {'envdash s':>10} {'aws sync s':>11} {'aws/envdash':>12} {'envdash PUTs':>13} {'aws PUTs':>9}")
    for name, e_s, a_s, e_p, a_p in rows:
        print(f"{name:<26} {e_s:>10.2f} {a_s:>11.2f} {a_s / e_s:>11.1f}x {e_p:>13} {a_p:>9}")
    print(f"cross-check, envdash --dry-run against the aws bucket: {check}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
