#!/usr/bin/env python3
"""Builds the inbound benchmark set: the corpora (sisimai, flufl-bounce, discourse, mailgun-talon)
and tests/fixtures/inbound, repeated to COUNT messages, each copy with its own Message-ID as the
first header (so the spool does not treat copies as duplicates). Discourse samples are bodies
without a header: they get a minimal reply header. Usage: make_inbound_set.py CORPORA FIXTURES OUT COUNT
"""
import os, sys

corpora, fixtures, out, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def files(d, exts):
    res = []
    for root, _, names in os.walk(d):
        res += [os.path.join(root, n) for n in names if n.endswith(exts)]
    return sorted(res)

base = []  # (bytes, has_header)
for f in files(os.path.join(corpora, "sisimai-set-of-emails", "maildir"), (".eml",)):
    base.append((open(f, "rb").read(), True))
for f in files(os.path.join(corpora, "flufl-bounce", "data"), (".txt",)):
    base.append((open(f, "rb").read(), True))
for f in files(os.path.join(corpora, "discourse-email-reply-trimmer", "emails"), (".txt",)):
    base.append((open(f, "rb").read(), False))
for f in files(os.path.join(corpora, "mailgun-talon-fixtures"), (".eml",)):
    base.append((open(f, "rb").read(), True))
for f in files(fixtures, (".eml",)):
    base.append((open(f, "rb").read(), True))
if not base:
    sys.exit("no corpus files found")

new = os.path.join(out, "new")
os.makedirs(new, exist_ok=True)
for i in range(count):
    raw, has_header = base[i % len(base)]
    if raw.startswith(b"From "):  # mbox line
        raw = raw.split(b"\n", 1)[1] if b"\n" in raw else raw
    nl = b"\r\n" if b"\r\n" in raw[:2000] else b"\n"
    mid = b"Message-ID: <bench.%d@netzpost.bench>" % i + nl
    if not has_header:
        mid += (b"From: Nachbarin <nachbarin%d@example.org>" % (i % 500) + nl
                + b"To: antwort@netzpost.example" + nl + b"Subject: Re: Neues aus dem Stadtteil" + nl
                + b"Date: Mon, 1 Jun 2026 10:00:00 +0200" + nl + nl)
    with open(os.path.join(new, "%010d.bench%d.netzpost" % (i, i)), "wb") as f:
        f.write(mid + raw)
print(f"{count} messages from {len(base)} distinct samples in {new}")
