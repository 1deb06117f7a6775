"""BibTeX (and the common part of BibLaTeX): ``@article{key, field = {value}, ...}``.

A small reader of its own rather than a library, so that every problem names the line
it is on. Text outside entries is a comment (as for BibTeX itself); ``@string``
abbreviations are expanded, ``@comment`` and ``@preamble`` are skipped. LaTeX accents
and escapes common in exported titles and names are turned into plain Unicode.
"""

from __future__ import annotations

import bisect
import re
import unicodedata

from studies.choices import PublicationType

from .base import (
    CITATION,
    ParsedRecord,
    ParseFailed,
    Problem,
    check_citation,
    decode,
    type_or_problem,
)

TYPES = {
    "article": PublicationType.ARTICLE,
    "inproceedings": PublicationType.CONFERENCE_ABSTRACT,
    "conference": PublicationType.CONFERENCE_ABSTRACT,
    "unpublished": PublicationType.PREPRINT,
}
MONTHS = {
    name: str(number)
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
_NAME = re.compile(r"[A-Za-z0-9_\-:.+/]+")
_TYPE = re.compile(r"[A-Za-z]+")
_NEXT_FIELD = re.compile(r"\n\s*[A-Za-z][\w-]*\s*=\s*[{\"\w]|\n\s*@[A-Za-z]+\s*[{(]")

# LaTeX accent commands and the Unicode combining mark each stands for.
_ACCENTS = {
    '"': "\u0308", "'": "\u0301", "`": "\u0300", "^": "\u0302", "~": "\u0303",
    "=": "\u0304", ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b",
    "c": "\u0327", "r": "\u030a", "k": "\u0328", "d": "\u0323", "b": "\u0331",
}
_ACCENT = re.compile(
    r"""\\([."'`^~=]|[uvHcrkdb](?=[\s{]))\s*"""  # the command: \" or \v (before { or space)
    r"""(?:\{\s*(\\[ij]|[A-Za-z])\s*\}|(\\[ij]|[A-Za-z]))"""  # its letter, braced or not
)
_LETTERS = {
    "ss": "ß", "o": "ø", "O": "Ø", "ae": "æ", "AE": "Æ", "aa": "å", "AA": "Å",
    "oe": "œ", "OE": "Œ", "l": "ł", "L": "Ł", "i": "ı", "j": "ȷ",
}
_LETTER = re.compile(r"\\(ss|ae|AE|aa|AA|oe|OE|[oOlLij])(?![A-Za-z])(?:\{\})?")
_ESCAPED = re.compile(r"\\([&%$#_{}])")
_COMMAND = re.compile(r"\\[A-Za-z]+\*?\s*")


def latex_to_text(value: str) -> str:
    """'M{\\"u}ller' -> 'Müller', '\\textit{in vivo}' -> 'in vivo', braces dropped."""

    def accent(match: re.Match) -> str:
        letter = match.group(2) or match.group(3)
        letter = {"\\i": "i", "\\j": "j"}.get(letter, letter)
        return unicodedata.normalize("NFC", letter + _ACCENTS[match.group(1)])

    value = _ACCENT.sub(accent, value)
    value = _LETTER.sub(lambda match: _LETTERS[match.group(1)], value)
    # Escaped characters hide in the private-use area while braces and commands go.
    value = _ESCAPED.sub(lambda match: chr(0xE000 + ord(match.group(1))), value)
    value = _COMMAND.sub("", value)
    value = value.replace("{", "").replace("}", "").replace("~", " ")
    value = re.sub("[\ue000-\ue07f]", lambda match: chr(ord(match.group(0)) - 0xE000), value)
    value = value.replace("---", "—").replace("--", "–")
    return " ".join(unicodedata.normalize("NFC", value).split())


class _Reader:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self._line_starts = [0] + [index + 1 for index, char in enumerate(text) if char == "\n"]

    def line(self, pos: int | None = None) -> int:
        return bisect.bisect_right(self._line_starts, self.pos if pos is None else pos)

    def fail(self, message: str, pos: int | None = None) -> ParseFailed:
        return ParseFailed([Problem(message, line=self.line(pos))])

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, chars: str, what: str) -> str:
        self.skip_space()
        char = self.peek()
        if not char or char not in chars:
            found = f"'{char}'" if char else "the end of the file"
            raise self.fail(f"Expected {what}, found {found}.")
        self.pos += 1
        return char

    def name(self, what: str) -> str:
        self.skip_space()
        match = _NAME.match(self.text, self.pos)
        if match is None:
            found = f"'{self.peek()}'" if self.peek() else "the end of the file"
            raise self.fail(f"Expected {what}, found {found}.")
        self.pos = match.end()
        return match.group(0)

    def braced(self) -> str:
        """The text inside {...} (the opening brace already read), inner braces kept."""
        start, opened, depth = self.pos, self.pos - 1, 1
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\":
                self.pos += 2
                continue
            if char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
                if depth == 0:
                    self.pos += 1
                    return self.text[start: self.pos - 1]
            self.pos += 1
        raise self.fail("This brace is never closed.", opened)

    def quoted(self) -> str:
        start, opened, depth = self.pos, self.pos - 1, 0
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\":
                self.pos += 2
                continue
            if char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
            elif char == '"' and depth == 0:
                self.pos += 1
                return self.text[start: self.pos - 1]
            self.pos += 1
        raise self.fail("This quotation mark is never closed.", opened)

    def value(self, macros: dict[str, str], undefined: list[str]) -> str:
        """A field value: {...}, "...", a number or an abbreviation, joined by '#'."""
        parts = []
        while True:
            self.skip_space()
            char = self.peek()
            if char == "{":
                self.pos += 1
                parts.append(self.braced())
            elif char == '"':
                self.pos += 1
                parts.append(self.quoted())
            elif char and (char.isalnum() or char in "_-"):
                word = self.name("a value")
                if word.isdigit():
                    parts.append(word)
                elif word.lower() in macros:
                    parts.append(macros[word.lower()])
                else:
                    undefined.append(word)
            else:
                found = f"'{char}'" if char else "the end of the file"
                raise self.fail(f"Expected a value ({{...}}, \"...\" or a number), found {found}.")
            self.skip_space()
            if self.peek() != "#":
                return "".join(parts)
            self.pos += 1


def parse(content: bytes) -> list[ParsedRecord]:
    reader = _Reader(decode(content))
    macros = dict(MONTHS)
    records: list[ParsedRecord] = []
    text = reader.text
    while True:
        at = text.find("@", reader.pos)
        if at < 0:
            break
        reader.pos = at + 1
        match = _TYPE.match(text, reader.pos)
        if match is None:
            raise reader.fail("Expected an entry type after '@' (e.g. '@article').", at)
        reader.pos = match.end()
        kind = match.group(0).lower()
        opening = reader.expect("{(", f"'{{' after '@{match.group(0)}'")
        closing = "}" if opening == "{" else ")"
        if kind == "comment":
            if opening == "{":
                reader.braced()
            continue
        if kind == "preamble":
            reader.value(macros, [])
            reader.expect(closing, f"'{closing}' to end the preamble")
            continue
        if kind == "string":
            name = reader.name("an abbreviation name")
            reader.expect("=", f"'=' after '{name}'")
            macros[name.lower()] = reader.value(macros, [])
            reader.expect(closing, f"'{closing}' to end the @string")
            continue
        records.append(_entry(reader, kind, at, closing, macros, len(records) + 1))
    if not records:
        raise ParseFailed([Problem("No entries: a BibTeX file has '@article{key, ...}' "
                                   "entries.")])
    return records


def _entry(reader, kind, at, closing, macros, number) -> ParsedRecord:
    line = reader.line(at)
    record = ParsedRecord(kind=CITATION, record=number, line=line)
    reader.skip_space()
    key_match = re.compile(r"[^,\s" + re.escape(closing) + r"]+").match(reader.text, reader.pos)
    if key_match:
        reader.pos = key_match.end()
    raw: dict[str, tuple[str, int]] = {}
    separator = reader.expect("," + closing, f"',' after the key of the entry on line {line}")
    while separator == ",":
        reader.skip_space()
        if reader.peek() == closing:  # a trailing comma
            reader.pos += 1
            break
        field_pos = reader.pos
        field_line = reader.line()
        name = reader.name("a field name (e.g. 'title')").lower()
        reader.expect("=", f"'=' after the field '{name}'")
        undefined: list[str] = []
        value = reader.value(macros, undefined)
        if _NEXT_FIELD.search(value):
            # A missing closing brace or quote swallows the fields after it; say where
            # it was opened rather than where the damage finally shows.
            raise reader.fail(
                f"The value of '{name}' runs into the next field: a closing brace or "
                "quotation mark is missing.", field_pos,
            )
        for word in undefined:
            record.problem(f"'{word}' is not a defined @string abbreviation.", field=name,
                           line=field_line)
        raw.setdefault(name, (value, field_line))
        separator = reader.expect(
            "," + closing, f"',' or '{closing}' after the field '{name}'"
        )
    _map(record, kind, raw)
    return record


def _map(record: ParsedRecord, kind: str, raw: dict) -> None:
    values: dict = {}
    lines: dict[str, int] = {}
    labels: dict[str, str] = {}
    sources = {
        "title": ("title",),
        "journal": ("journal", "journaltitle", "booktitle"),
        "year": ("year", "date"),
        "volume": ("volume",),
        "issue": ("number", "issue"),
        "pages": ("pages",),
        "doi": ("doi",),
        "pmid": ("pmid",),
        "pmcid": ("pmcid",),
        "abstract": ("abstract",),
    }
    for name, candidates in sources.items():
        for candidate in candidates:
            if candidate in raw and raw[candidate][0].strip():
                text, line = raw[candidate]
                values[name] = latex_to_text(text)
                lines[name], labels[name] = line, candidate
                break
    if "pmid" not in values and raw.get("eprinttype", ("",))[0].strip().lower() == "pubmed":
        text, line = raw.get("eprint", ("", None))
        values["pmid"], lines["pmid"], labels["pmid"] = latex_to_text(text), line, "eprint"
    if "pages" in values:
        values["pages"] = re.sub(r"\s*[–—-]+\s*", "-", values["pages"])
    if "author" in raw:
        text, line = raw["author"]
        values["authors"] = [dict(author, line=line) for author in split_authors(text)]
        lines["authors"], labels["authors"] = line, "author"
    values["publication_type"] = type_or_problem(
        record, TYPES, kind, field="entry type", line=record.line, what="Entry type"
    )
    check_citation(record, values, lines=lines, labels=labels)


def _split_top(text: str, separator: re.Pattern) -> list[str]:
    """Split on ``separator`` where it is outside braces."""
    parts, depth, start, pos = [], 0, 0, 0
    while pos < len(text):
        char = text[pos]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif depth == 0:
            match = separator.match(text, pos)
            if match:
                parts.append(text[start:pos])
                start = pos = match.end()
                continue
        pos += 1
    parts.append(text[start:])
    return [part.strip() for part in parts if part.strip()]


_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
_COMMA = re.compile(r"\s*,\s*")
_SPACE = re.compile(r"\s+")


def split_authors(text: str) -> list[dict]:
    """BibTeX names: 'Müller, Fabian and Georg Schett and {EULAR Study Group}'."""
    authors = []
    for name in _split_top(" ".join(text.split()), _AND):
        if name.lower() == "others":
            continue
        parts = _split_top(name, _COMMA)
        if len(parts) >= 3:  # "von Last, Jr, First"
            family, given = f"{parts[0]} {parts[1]}", parts[2]
        elif len(parts) == 2:
            family, given = parts
        else:
            words = _split_top(name, _SPACE)
            von = next(
                (index for index, word in enumerate(words[:-1]) if index and word[:1].islower()),
                None,
            )
            if von is not None:
                family, given = " ".join(words[von:]), " ".join(words[:von])
            else:
                family, given = words[-1], " ".join(words[:-1])
        authors.append({"family_name": latex_to_text(family),
                        "given_names": latex_to_text(given)})
    return authors
