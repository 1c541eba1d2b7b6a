"""Checks an Atom feed against the MUST rules of RFC 4287 that a reader relies
on, one by one, and prints each violation (nothing when the feed is valid).
feedparser (a real reader) is lenient and repairs what it can; this is the
strict side. No network, no schema download: the rules are in the code.

    .venv/bin/python tests/support/atom_check.py FEED.xml
"""

import re
import sys
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

ATOM = "{http://www.w3.org/2005/Atom}"
# RFC 3339 date-time, as section 3.3 requires: upper-case T and Z, seconds.
DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
TEXT_TYPES = {"text", "html", "xhtml"}


def problems(path):
    out = []
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        return [f"not well-formed XML: {e}"]
    if root.tag != f"{ATOM}feed":
        return [f"the root is {root.tag}, not atom:feed"]

    def children(el, name):
        return el.findall(f"{ATOM}{name}")

    def exactly_one(el, name, where):
        found = children(el, name)
        if len(found) != 1:
            out.append(f"{where}: {len(found)} atom:{name}, exactly one is required")
        return found[0] if found else None

    def at_most_one(el, name, where):
        if len(children(el, name)) > 1:
            out.append(f"{where}: more than one atom:{name}")

    def date(el, where):
        if el is not None and not DATE.match((el.text or "").strip()):
            out.append(f"{where}: {el.tag.removeprefix(ATOM)} {el.text!r} is not an RFC 3339 date-time")

    def absolute_iri(el, where):
        if el is not None:
            value = (el.text or "").strip()
            if not urlsplit(value).scheme:
                out.append(f"{where}: id {value!r} is not an absolute IRI")

    def text_construct(el, where):
        if el is None:
            return
        kind = el.get("type", "text")
        if kind not in TEXT_TYPES:
            out.append(f"{where}: {el.tag.removeprefix(ATOM)} has type {kind!r}")
        if kind in ("text", "html") and len(el):
            out.append(f"{where}: {el.tag.removeprefix(ATOM)} of type {kind} holds elements")
        if kind == "xhtml" and [c.tag for c in el] != ["{http://www.w3.org/1999/xhtml}div"]:
            out.append(f"{where}: xhtml {el.tag.removeprefix(ATOM)} is not one xhtml:div")

    def links(el, where):
        alternates = set()
        for link in children(el, "link"):
            if not link.get("href"):
                out.append(f"{where}: an atom:link without href")
            if link.get("rel", "alternate") == "alternate":
                key = (link.get("type"), link.get("hreflang"))
                if key in alternates:
                    out.append(f"{where}: two alternate links of type {key[0]} and hreflang {key[1]}")
                alternates.add(key)
        return alternates

    def persons(el, where):
        for p in children(el, "author") + children(el, "contributor"):
            if len(children(p, "name")) != 1:
                out.append(f"{where}: a person construct without exactly one atom:name")

    # 4.1.1 atom:feed
    feed_where = "feed"
    absolute_iri(exactly_one(root, "id", feed_where), feed_where)
    text_construct(exactly_one(root, "title", feed_where), feed_where)
    date(exactly_one(root, "updated", feed_where), feed_where)
    for name in ("generator", "icon", "logo", "rights", "subtitle"):
        at_most_one(root, name, feed_where)
    links(root, feed_where)
    persons(root, feed_where)
    feed_has_author = bool(children(root, "author"))
    seen = set()
    for n, entry in enumerate(children(root, "entry"), 1):
        where = f"entry {n}"
        entry_id = exactly_one(entry, "id", where)
        absolute_iri(entry_id, where)
        text_construct(exactly_one(entry, "title", where), where)
        updated = exactly_one(entry, "updated", where)
        date(updated, where)
        for name in ("content", "published", "rights", "source", "summary"):
            at_most_one(entry, name, where)
        date(entry.find(f"{ATOM}published"), where)
        text_construct(entry.find(f"{ATOM}summary"), where)
        persons(entry, where)
        if not feed_has_author and not children(entry, "author"):
            out.append(f"{where}: no atom:author, and the feed has none")
        alternates = links(entry, where)
        content = entry.find(f"{ATOM}content")
        if content is None and not alternates:
            out.append(f"{where}: neither atom:content nor an alternate link")
        if content is not None and content.get("src") and entry.find(f"{ATOM}summary") is None:
            out.append(f"{where}: out-of-line content without atom:summary")
        # 4.1.1: entries with the same id must differ in atom:updated.
        key = ((entry_id.text if entry_id is not None else ""), (updated.text if updated is not None else ""))
        if key in seen:
            out.append(f"{where}: same id and updated as an earlier entry: {key}")
        seen.add(key)
    return out


if __name__ == "__main__":
    found = problems(sys.argv[1])
    for p in found:
        print(p)
    sys.exit(1 if found else 0)
