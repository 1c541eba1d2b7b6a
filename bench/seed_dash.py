#!/usr/bin/env python3
"""The seed's job in the leanest honest Python, the benchmark's baseline.

What the seed's per-environment scripts did, for every environment file in one
process: one pass over the file's lines, one table row per container (host,
container, status, image version; red when the container is not up, green
otherwise), one page per environment, and a master page with a box per
environment ("No Issues Reported" / "1 or more issues reported") linking to it.
Both layouts are read: the legacy one (a host line, then `name,status,image`
lines) and CSV with a header (quoted fields, any column order), with the csv
module's C parser. Every value is HTML-escaped (the seed did not escape; a
dashboard that does not is not doing the job). Nothing else: no history, no
judging beyond the status text, no JSON.

Written to be fast: files read whole as bytes and decoded once, rows built with
one format call each and written with one write per page, no per-row function
calls beyond escaping, and escaping skipped for values that need none. Making it
faster means doing less.

Usage: seed_dash.py INPUT_DIR OUT_DIR
"""
import csv
import os
import sys
import time

NEEDS_ESCAPE = frozenset("&<>\"'")


def esc(s):
    if NEEDS_ESCAPE.isdisjoint(s):
        return s
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;").replace("'", "&#x27;")


def version(image):
    slash = image.rfind("/")
    colon = image.rfind(":")
    return image[colon + 1 :] if colon > slash else "latest"


GOOD = '<tr class="ok"><td>%s</td><td>%s</td><td>%s</td></tr>'
BAD = '<tr class="bad"><td>%s</td><td>%s</td><td>%s</td></tr>'
HOST = '<tr class="host"><td colspan="3">%s</td></tr>'


def render(text):
    """(table rows, problems) of one environment file."""
    hosts = {}  # host -> its rows, in the order hosts first appear
    problems = 0
    lines = text.splitlines()
    if lines and lines[0].startswith("host,"):
        reader = csv.reader(lines)
        header = next(reader)
        ih, iname, istatus, iimage = (header.index(k) for k in ("host", "name", "status", "image"))
        width = max(ih, iname, istatus, iimage) + 1
        for f in reader:
            if len(f) < width:
                continue
            status = f[istatus]
            bad = not status.startswith("Up") or "(unhealthy)" in status or "aused)" in status
            problems += bad
            row = (BAD if bad else GOOD) % (esc(f[iname]), esc(status), esc(version(f[iimage])))
            rows = hosts.get(f[ih])
            if rows is None:
                rows = hosts[f[ih]] = []
            rows.append(row)
    else:
        rows = None
        for line in lines:
            parts = line.split(",")
            if len(parts) == 1:
                line = line.strip()
                if line:
                    rows = hosts.setdefault(line, [])
            elif len(parts) >= 3 and rows is not None:
                status = parts[1]
                bad = not status.startswith("Up") or "(unhealthy)" in status or "aused)" in status
                problems += bad
                rows.append((BAD if bad else GOOD) % (esc(parts[0]), esc(status), esc(version(parts[2]))))
    out = []
    for host, rows in hosts.items():
        out.append(HOST % esc(host))
        out.extend(rows)
    return out, problems


STYLE = "<style>.host{background:#9cf}.ok{background:#9f9}.bad{background:#f99}</style>"


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    boxes = []
    for name in sorted(os.listdir(src)):
        if not name.endswith(".txt"):
            continue
        env = name[:-4]
        with open(os.path.join(src, name), "rb") as f:
            text = f.read().decode("utf-8", "replace")
        if text.startswith("\ufeff"):
            text = text[1:]
        rows, problems = render(text)
        title = esc(env)
        with open(os.path.join(out, env + ".html"), "w", encoding="utf-8") as f:
            f.write(
                "<!DOCTYPE html><html><head><meta charset=utf-8><title>%s</title>%s</head><body><h1>%s</h1>"
                "<p>LAST UPDATED %s</p><table>\n%s\n</table></body></html>\n"
                % (title, STYLE, title, stamp, "\n".join(rows))
            )
        verdict = "1 or more issues reported" if problems else "No Issues Reported"
        boxes.append('<div><h2>%s</h2><p>%s</p><a href="%s.html">details</a></div>' % (title, verdict, esc(env)))
    with open(os.path.join(out, "master-dash.html"), "w", encoding="utf-8") as f:
        f.write(
            "<!DOCTYPE html><html><head><meta charset=utf-8><title>Environments</title></head><body>"
            "<p>LAST UPDATED %s</p>%s</body></html>\n" % (stamp, "\n".join(boxes))
        )


if __name__ == "__main__":
    main()
