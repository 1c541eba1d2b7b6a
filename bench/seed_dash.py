#!/usr/bin/env python3
"""The seed's job as one plain Python script, for comparison in the benchmark.

Reads every environment file (both layouts), writes one HTML page per
environment (host, container, status, version; red when not running) and a
master page with a box per environment. It escapes HTML (the seed did not) but
is otherwise as simple as the original: one process, one file at a time.

Usage: seed_dash.py INPUT_DIR OUT_DIR
"""
import csv
import html
import os
import sys
import time


def read_env(path):
    hosts = {}
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
        text = f.read()
    lines = text.splitlines()
    if lines and lines[0].startswith("host,"):
        for row in csv.DictReader(lines):
            hosts.setdefault(row["host"], []).append((row["name"], row["status"], row["image"]))
        return hosts
    current = None
    for line in lines:
        line = line.strip()
        if not line:
            continue
        parts = line.split(",")
        if len(parts) == 1:
            current = hosts.setdefault(line, [])
        elif len(parts) >= 3 and current is not None:
            current.append((parts[0], parts[1], parts[2]))
    return hosts


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    boxes = []
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    for name in sorted(os.listdir(src)):
        if not name.endswith(".txt"):
            continue
        env = name[:-4]
        hosts = read_env(os.path.join(src, name))
        problems = 0
        rows = []
        for host, containers in hosts.items():
            rows.append(f'<tr style="background:#9cf"><td colspan="3">{html.escape(host)}</td></tr>')
            for cname, status, image in containers:
                bad = not status.startswith("Up") or "(unhealthy)" in status or "(Paused)" in status
                problems += bad
                version = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else "latest"
                color = "#f99" if bad else "#9f9"
                rows.append(
                    f'<tr style="background:{color}"><td>{html.escape(cname)}</td>'
                    f"<td>{html.escape(status)}</td><td>{html.escape(version)}</td></tr>"
                )
        with open(os.path.join(out, env + ".html"), "w") as f:
            f.write(f"<html><body><h1>{html.escape(env)}</h1><p>LAST UPDATED {stamp}</p><table>")
            f.write("\n".join(rows))
            f.write("</table></body></html>\n")
        verdict = "1 or more issues reported" if problems else "No Issues Reported"
        boxes.append(f'<div><h2>{html.escape(env)}</h2><p>{verdict}</p><a href="{env}.html">details</a></div>')
    with open(os.path.join(out, "master-dash.html"), "w") as f:
        f.write(f"<html><body><p>LAST UPDATED {stamp}</p>" + "\n".join(boxes) + "</body></html>\n")


if __name__ == "__main__":
    main()
