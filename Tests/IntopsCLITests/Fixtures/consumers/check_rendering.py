"""Reads a rendered report the way its real consumer does and fails loudly when the document is broken.

usage: check_rendering.py FORMAT FILE
  junit     parsed by Python's XML parser (well-formed XML 1.0)
  markdown  rendered by markdown-it-py with GFM tables: every table row has its header's cell count, and the
            HTML holds only the elements intops writes itself (no raw HTML from values)
  github    every line is one workflow command, ::name key=value,...::message, with properties and message
            escaped as the runner's parser expects
  text      no control character but newline, no bidirectional override
"""
import re
import sys
import xml.etree.ElementTree as ElementTree
from html.parser import HTMLParser

ALLOWED_TAGS = {"h3", "p", "strong", "em", "code", "details", "summary", "b", "br", "table", "thead", "tbody",
                "tr", "th", "td", "blockquote"}


def fail(message):
    print(message)
    sys.exit(1)


def check_junit(text):
    try:
        ElementTree.fromstring(text.encode("utf-8"))
    except ElementTree.ParseError as error:
        fail(f"not well-formed XML: {error}")


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []
        self.rows = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append(0)
        if tag in ("td", "th") and self.rows:
            self.rows[-1] += 1


def check_markdown(text):
    from markdown_it import MarkdownIt
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    parser = Tags()
    parser.feed(html)
    unexpected = sorted(set(parser.tags) - ALLOWED_TAGS)
    if unexpected:
        fail(f"raw HTML reached the comment: {unexpected}")
    if parser.rows and len(set(parser.rows)) != 1:
        fail(f"table rows with different cell counts: {parser.rows}")
    # A table must not have been cut short by a value that ended a line.
    expected_rows = sum(1 for line in text.splitlines() if line.startswith("| ") and not line.startswith("|---"))
    if len(parser.rows) != expected_rows:
        fail(f"{expected_rows} table lines but {len(parser.rows)} rendered rows")


COMMAND = re.compile(r"^::([a-z-]+)(?: ([^:]*))?::(.*)$")


def check_github(text):
    for line in text.split("\n"):
        if not line.startswith("::"):
            if "::" in line:
                fail(f"a workflow command inside another line: {line!r}")
            continue
        match = COMMAND.match(line)
        if not match:
            fail(f"not a workflow command: {line!r}")
        name, properties, message = match.groups()
        if "\r" in line:
            fail(f"carriage return in a command: {line!r}")
        for part in (properties or "").split(","):
            if not part:
                continue
            key, equals, value = part.partition("=")
            if not equals or not re.fullmatch(r"[a-zA-Z]+", key):
                fail(f"malformed property {part!r} in {line!r}")
            if ":" in value or "," in value:
                fail(f"unescaped property value {value!r}")
        if re.search(r"%(?!25|0D|0A|3A|2C)", message + (properties or "")):
            fail(f"a bare % the runner would misread in {line!r}")


def check_text(text):
    for character in text:
        code = ord(character)
        if (code < 0x20 and character != "\n") or 0x7F <= code <= 0x9F or 0x202A <= code <= 0x202E \
                or 0x2066 <= code <= 0x2069:
            fail(f"raw control character U+{code:04X} in terminal text")


def main():
    format_name, path = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8", newline="") as handle:
        text = handle.read()
    {"junit": check_junit, "markdown": check_markdown, "github": check_github, "text": check_text}[format_name](text)
    print("ok")


main()
