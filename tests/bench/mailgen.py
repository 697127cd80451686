"""Deterministic, realistic test mail for the benchmarks.

message(seed, i) is a pure function of (seed, i): the same bytes on every
machine and every run (random.Random seeded with a string is stable across
Python versions >= 3.2).  The mix, chosen to look like a university
mailbox:

  kind          share  size (whole message)
  plain         62 %   1 KB .. 24 KB   (log-uniform: most near the bottom)
  alternative   25 %   4 KB .. 80 KB   (text/plain + text/html)
  attachment  12.4 %   30 KB .. 600 KB (text + a base64 PDF/JPEG-like blob)
  large        0.6 %   1 MB .. 5 MB    (text + a base64 blob)

which averages about 50 KB, so 10,000 messages are about 500 MB.  Headers
carry 8-bit UTF-8 (in the body of 8-bit parts and sometimes raw in
Subject, as real mail does) and RFC 2047 encoded words (B and Q) in
From/To/Subject.  Line ends are CRLF; no line starts with "." alone.

small(seed, i, size) is a plain message of about `size` bytes, for loading
very large mailboxes fast.

Run as a script to print statistics: python3 mailgen.py [count] [seed]
"""

import base64
import math
import random
import sys

WORDS = (
    "the of and to in is that for it as was with be by on not he this are "
    "or his from at which but have an they you were her she there been one "
    "all we their has would when if so no will more about can said up out "
    "them into some could time only new other than these then two may first "
    "any like now my such make over our even most after also made many did "
    "before must through back years where much your way down should because "
    "long each just state people those how too little good world very still "
    "own see men work here between both life being under never day same "
    "another know while last might us great old year off come since against "
    "go came right used take three meeting report budget draft lecture exam "
    "seminar library thesis committee deadline schedule room grant review "
    "minutes agenda attached please regards thanks question answer course "
    "student faculty department campus research paper submission proposal"
).split()

NAMES = (
    ("Anna", "Müller"), ("José", "García"), ("Zoë", "Leclerc"),
    ("Björn", "Åkesson"), ("Léa", "Dubois"), ("John", "Smith"),
    ("Mary", "Jones"), ("Łukasz", "Wójcik"), ("Søren", "Kierkegaard"),
    ("Ana", "Pereira"), ("Wei", "Zhang"), ("Priya", "Sharma"),
    ("Olga", "Ivanova"), ("Dmitri", "Петров"), ("Yuki", "田中"),
)

UTF8_WORDS = ("café", "naïve", "Grüße", "réunion", "façade", "smörgåsbord",
              "über", "niño", "déjà", "Ärger", "crème", "São")


def _text(rng, nbytes, eight_bit=False):
    """Lines of words, about nbytes long, CRLF line ends."""
    lines, total, line = [], 0, []
    ll = 0
    words = WORDS
    while total + ll < nbytes:
        if eight_bit and rng.random() < 0.05:
            w = rng.choice(UTF8_WORDS)
        else:
            w = words[int(rng.random() * len(words))]
        line.append(w)
        ll += len(w) + 1
        if ll > 66 or rng.random() < 0.01:
            s = " ".join(line)
            if rng.random() < 0.08:
                s += "."
            lines.append(s)
            total += ll + 1
            line, ll = [], 0
            if rng.random() < 0.06:
                lines.append("")
    if line:
        lines.append(" ".join(line))
    return "\r\n".join(lines) + "\r\n"


def _encoded_word(rng, s):
    """RFC 2047 encoded word, B or Q encoding, for a non-ASCII string."""
    b = s.encode("utf-8")
    if rng.random() < 0.5:
        return "=?UTF-8?B?" + base64.b64encode(b).decode() + "?="
    out = []
    for c in b:
        if c == 0x20:
            out.append("_")
        elif 0x21 <= c <= 0x7e and chr(c) not in "=?_":
            out.append(chr(c))
        else:
            out.append("=%02X" % c)
    return "=?UTF-8?Q?" + "".join(out) + "?="


def _addr(rng, domain):
    first, last = NAMES[int(rng.random() * len(NAMES))]
    local = "%s.%s" % (first.lower(), last.lower())
    local = local.encode("ascii", "ignore").decode() or "user"
    disp = "%s %s" % (first, last)
    try:
        disp.encode("ascii")
        shown = '"%s"' % disp
    except UnicodeEncodeError:
        shown = _encoded_word(rng, disp)
    return "%s <%s%d@%s>" % (shown, local, int(rng.random() * 100), domain)


def _subject(rng, seed, i):
    words = [WORDS[int(rng.random() * len(WORDS))]
             for _ in range(3 + int(rng.random() * 6))]
    r = rng.random()
    if r < 0.15:
        words.insert(1, rng.choice(UTF8_WORDS))
        return _encoded_word(rng, " ".join(words))
    if r < 0.20:
        # raw 8-bit UTF-8 in a header (RFC 6532 style; common in practice)
        words.insert(1, rng.choice(UTF8_WORDS))
    prefix = "Re: " if rng.random() < 0.3 else ""
    return prefix + " ".join(words).capitalize()


def _headers(rng, seed, i, extra):
    day = 1 + i % 28
    hh, mm, ss = (i // 3600) % 24, (i // 60) % 60, i % 60
    h = [
        "Received: from mx%d.example.edu (mx%d.example.edu [192.0.2.%d])"
        % (i % 7, i % 7, 1 + i % 250),
        "\tby mail.example.edu with ESMTPS id %08x; Mon, %d Mar 2025 "
        "%02d:%02d:%02d +0000" % (rng.getrandbits(32), day, hh, mm, ss),
        "Date: Mon, %d Mar 2025 %02d:%02d:%02d +0100" % (day, hh, mm, ss),
        "From: " + _addr(rng, "example.org"),
        "To: " + _addr(rng, "example.edu"),
        "Subject: " + _subject(rng, seed, i),
        "Message-ID: <%s.%d.%08x@example.org>" % (seed, i,
                                                  rng.getrandbits(32)),
        "MIME-Version: 1.0",
    ]
    if rng.random() < 0.3:
        h.append("Cc: " + _addr(rng, "example.edu"))
    if rng.random() < 0.3:
        h.append("In-Reply-To: <%08x@example.org>" % rng.getrandbits(32))
    return "\r\n".join(h + extra) + "\r\n\r\n"


def _b64_blob(rng, nbytes):
    """base64 of nbytes of random data, 76-column lines (RFC 2045)."""
    raw = rng.randbytes(nbytes)
    enc = base64.encodebytes(raw).replace(b"\n", b"\r\n")
    return enc


def _loguniform(rng, lo, hi):
    return int(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def message(seed, i):
    """Message number i (0-based) of the corpus `seed`, as bytes."""
    rng = random.Random("%s:%d" % (seed, i))
    r = rng.random()
    if r < 0.62:
        kind, size = "plain", _loguniform(rng, 1000, 24000)
    elif r < 0.87:
        kind, size = "alternative", _loguniform(rng, 4000, 80000)
    elif r < 0.994:
        kind, size = "attachment", _loguniform(rng, 30000, 600000)
    else:
        kind, size = "large", _loguniform(rng, 1000000, 5000000)
    eight = rng.random() < 0.3
    cte = "8bit" if eight else "7bit"
    if kind == "plain":
        head = _headers(rng, seed, i, [
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: " + cte])
        body = _text(rng, max(200, size - len(head)), eight)
        return (head + body).encode("utf-8")
    boundary = "=_po_%d_%08x" % (i, rng.getrandbits(32))
    if kind == "alternative":
        head = _headers(rng, seed, i, [
            'Content-Type: multipart/alternative; boundary="%s"' % boundary])
        text = _text(rng, max(300, (size - len(head)) * 2 // 5), eight)
        html_lines = "".join("<p>%s</p>\r\n" % ln for ln in
                             text.split("\r\n") if ln)
        html = ("<html><head><meta charset=\"utf-8\"></head><body>\r\n" +
                html_lines + "</body></html>\r\n")
        out = (head + "This is a multi-part message in MIME format.\r\n\r\n"
               "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
               "Content-Transfer-Encoding: %s\r\n\r\n%s\r\n"
               "--%s\r\nContent-Type: text/html; charset=utf-8\r\n"
               "Content-Transfer-Encoding: %s\r\n\r\n%s\r\n--%s--\r\n"
               % (boundary, cte, text, boundary, cte, html, boundary))
        return out.encode("utf-8")
    head = _headers(rng, seed, i, [
        'Content-Type: multipart/mixed; boundary="%s"' % boundary])
    text = _text(rng, 200 + int(rng.random() * 3000), eight)
    ctype, name = rng.choice((("application/pdf", "report.pdf"),
                              ("image/jpeg", "photo.jpg"),
                              ("application/vnd.openxmlformats-officedocument"
                               ".wordprocessingml.document", "thesis.docx"),
                              ("application/zip", "data.zip")))
    if rng.random() < 0.2:
        fname = 'filename*=utf-8\'\'r%C3%A9sum%C3%A9.pdf'
    else:
        fname = 'filename="%s"' % name
    blob = _b64_blob(rng, max(1000, (size - len(head) - len(text)) * 3 // 4))
    pre = (head + "This is a multi-part message in MIME format.\r\n\r\n"
           "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: %s\r\n\r\n%s\r\n"
           "--%s\r\nContent-Type: %s; name=\"%s\"\r\n"
           "Content-Disposition: attachment; %s\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n"
           % (boundary, cte, text, boundary, ctype, name, fname))
    return pre.encode("utf-8") + blob + ("\r\n--%s--\r\n" %
                                         boundary).encode()


def small(seed, i, size=1200):
    """A small plain message of about size bytes (for huge mailboxes)."""
    rng = random.Random("%s:s:%d" % (seed, i))
    head = _headers(rng, seed, i, ["Content-Type: text/plain; charset=utf-8",
                                   "Content-Transfer-Encoding: 7bit"])
    return (head + _text(rng, max(100, size - len(head)))).encode("utf-8")


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    seed = sys.argv[2] if len(sys.argv) > 2 else "bench"
    sizes = sorted(len(message(seed, i)) for i in range(n))
    tot = sum(sizes)
    print("%d messages, %.1f MB, mean %.1f KB, median %.1f KB, "
          "p90 %.1f KB, max %.1f KB" % (
              n, tot / 1e6, tot / n / 1e3, sizes[n // 2] / 1e3,
              sizes[n * 9 // 10] / 1e3, sizes[-1] / 1e3))


if __name__ == "__main__":
    main()
