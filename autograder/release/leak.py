"""Leak check: no solution line (or near copy), marker text or forbidden file may reach the student release.

Lines are compared normalised (whitespace, comments, backticks and Markdown fences ignored; names renamed
by order of appearance), one by one and as runs of two consecutive solution lines.
"""

from __future__ import annotations

import builtins
import json
import keyword
import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from .markers import MARKER_WORDS, solution_lines
from .policy import DEFAULT_POLICY, ReleasePolicy

LEAK_MARKERS = (*MARKER_WORDS, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
"""Marker text that must not survive into a release (ours and nbgrader's)."""

_KEPT_NAMES = frozenset(keyword.kwlist) | frozenset(dir(builtins))
_LEXER = re.compile(
    r"\s*(?:(?P<name>[^\W\d]\w*)"
    r"|(?P<op>\*\*=?|//=?|>>=?|<<=?|\.\.\.|->|:=|[-+*/%&|^@<>=!]=|[-+*/%&|^@~<>=.,:;()\[\]{}])"
    r"|(?P<number>\.?\d(?:[eE][+-]\d|[\w.])*)"
    r"|(?P<string>'''(?:.*?'''|.*)|\"\"\"(?:.*?\"\"\"|.*)|'(?:\\.|[^'\\])*'?|\"(?:\\.|[^\"\\])*\"?)"
    r"|(?P<comment>#.*)|(?P<other>\S))"
)
"""Python tokens of one line (a regular expression: much faster than `tokenize`, the same on both sides)."""
_MARKUP = re.compile(r"[rRuU]?(?:\"\"\"|''')\s*|(?:#+|>>>|\.\.\.|>|[-*+]|\d+[.)])\s+|#+")
"""Markup in front of a copied line: docstring quotes, a comment sign, a doctest prompt, a quote, a list."""
_FENCE = re.compile(r"```|~~~")
_SPAN = re.compile(r"`+([^`]+)`+")
_SPACE = re.compile(r"(?<!\w) | (?!\w)")

Line = tuple[int, str]
"""A line to scan: its number in the file and its text."""


@dataclass(frozen=True)
class Leak:
    """One leak: where it is in the release (line 0: the whole file), and what leaked."""

    path: Path
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


class Secrets(dict[str, str]):
    """Solution lines (stripped) -> "file:line", from `secret_lines`; `runs`: each pair of consecutive
    solution lines (`run_key`) -> "file:line" of its first line. Only these lines, whose publicity was
    decided with the same normalised matching, also count renamed or inside a longer line; lines merged in
    later (a notebook's, `notebook_secret_lines`) count as whole lines, up to whitespace and comments."""

    def __init__(self, lines: Mapping[str, str] | None = None, runs: Mapping[str, str] | None = None) -> None:
        super().__init__(lines or {})
        self.runs: dict[str, str] = dict(runs or {})
        self.checked: frozenset[str] = frozenset(self)


class _Lexed(NamedTuple):
    tokens: tuple[tuple[str, bool], ...]  # each with whether a copy may rename it
    code: str  # the stripped line without its comment
    complete: bool  # brackets and strings closed
    key: str  # the tokens joined by spaces, names renamed `$0`, `$1`, ... by order of appearance
    opens: str  # the triple quote of a string left open at the end of the line, or ""


def _lex(line: str) -> _Lexed:
    """Tokens of a line; renamable: any name but a keyword, a builtin, an attribute (`.repeat_interleave`)
    or a keyword argument (`dim=`)."""
    return _lex_stripped(line.strip())


@lru_cache(maxsize=1 << 16)
def _lex_stripped(line: str) -> _Lexed:
    found: list[tuple[str, str, int]] = []  # kind, text, bracket depth
    end, depth, complete, opens = len(line), 0, True, ""
    for match in _LEXER.finditer(line):
        kind = match.lastgroup or "other"
        text = match.group(kind)
        if kind == "comment":
            end = match.start(kind)
            break
        if kind == "string":  # a prefix (f, rb) is a name before it
            quote = text[:3] if text[:3] in ("'''", '"""') else text[0]
            closed = len(text) >= 2 * len(quote) and text.endswith(quote)
            complete &= closed
            opens = "" if closed or len(quote) == 1 else quote
        if kind == "op":
            depth += (text in "([{") - (text in ")]}")
            complete &= depth >= 0
        found.append((kind, text, depth))
    tokens = []
    for i, (kind, text, level) in enumerate(found):
        attribute = i > 0 and found[i - 1][1] == "."
        argument = level > 0 and i + 1 < len(found) and found[i + 1][1] == "="
        tokens.append((text, kind == "name" and text not in _KEPT_NAMES and not (attribute or argument)))
    key = _renamed([tuple(tokens)])
    return _Lexed(tuple(tokens), line[:end].rstrip(), complete and depth == 0, key, opens)


def _renamed(lines: Iterable[tuple[tuple[str, bool], ...]]) -> str:
    """Lines of tokens joined by spaces (lines by newlines), names renamed `$0`, `$1`, ... across all."""
    names: dict[str, str] = {}
    return "\n".join(
        " ".join(names.setdefault(t, f"${len(names)}") if renamable else t for t, renamable in tokens)
        for tokens in lines
    )


@lru_cache(maxsize=1 << 16)
def code_key(line: str, policy: ReleasePolicy = DEFAULT_POLICY) -> str | None:
    """`line` as code with its names renamed, or None when that says too little: fewer than
    `policy.min_renamed_tokens` tokens (`for i in range(n):`) or mostly names (prose)."""
    tokens, key = _lex(line).tokens, _lex(line).key
    names = sum(renamable for _, renamable in tokens)
    return key if len(tokens) >= policy.min_renamed_tokens and 2 * names <= len(tokens) else None


def run_key(first: str, second: str) -> str:
    """Two consecutive lines as code, names renamed across both."""
    return _renamed([_lex(first).tokens, _lex(second).tokens])


@lru_cache(maxsize=1 << 16)
def text_key(line: str) -> str:
    """`line` without backticks, whitespace kept only between two word characters (`x*2` == `x * 2`)."""
    return _SPACE.sub("", " ".join(line.replace("`", " ").split()))


def _unmarked(stripped: str) -> str:
    """A stripped line without the docstring quotes, comment sign or Markdown markup around it."""
    markup = _MARKUP.match(stripped)
    text = stripped[markup.end() :] if markup else stripped
    return text[:-3].rstrip() if text.endswith(('"""', "'''")) else text


def _distinctive(code: str, policy: ReleasePolicy) -> bool:
    return len(code) >= policy.min_secret_length and not re.fullmatch(policy.trivial_lines, code)


def _pairs(lines: Iterable[Line], policy: ReleasePolicy) -> Iterator[tuple[int, str, int, str]]:
    """(number, code, number, code) of consecutive lines that may form a run: code of 3+ tokens, not
    trivia such as `return out`; blank, comment and fence lines are skipped, any other line breaks a run."""
    previous: tuple[int, str] | None = None
    for number, text in lines:
        stripped = text.strip()
        if not stripped or stripped.startswith("#") or _FENCE.match(stripped):
            continue
        code = _lex(_unmarked(stripped)).code
        if len(_lex(code).tokens) < 3 or re.fullmatch(policy.trivial_lines, code):
            previous = None
            continue
        if previous is not None:
            yield previous[0], previous[1], number, code
        previous = (number, code)


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


@dataclass(frozen=True)
class _Hit:
    number: int
    key: str  # what matched: a text key, code key or run key
    secrets: tuple[str, ...]  # the secret lines (or the run key) with that key
    how: str  # "verbatim", "renamed" or "run"
    text: str  # the matching text of the scanned lines
    last: int = 0  # a run's second line


class _Matcher:
    """Finds solution lines and runs in the lines of one file."""

    def __init__(self, secrets: Mapping[str, str], policy: ReleasePolicy) -> None:
        self.policy = policy
        checked = secrets.checked if isinstance(secrets, Secrets) else frozenset()
        self.lines: dict[str, list[str]] = defaultdict(list)  # whole lines, by text key
        self.texts: dict[str, list[str]] = defaultdict(list)  # also inside longer lines
        self.codes: dict[str, list[str]] = defaultdict(list)  # also renamed, by code key
        for secret in secrets:
            lexed = _lex(secret)
            if not _distinctive(lexed.code, policy):
                continue
            self.lines[text_key(lexed.code)].append(secret)
            if secret in checked and lexed.complete:
                self.texts[text_key(lexed.code)].append(secret)
            if secret in checked and (key := code_key(lexed.code, policy)):
                self.codes[key].append(secret)
        self.runs: Mapping[str, str] = secrets.runs if isinstance(secrets, Secrets) else {}
        self.firsts = {key.split("\n")[0] for key in self.runs}

    def hits(self, lines: list[Line]) -> list[_Hit]:
        """Every match in `lines`, overlapping ones included."""
        return [*self._inside(lines), *self._whole(lines), *self._runs(lines)]

    def scan(self, lines: list[Line]) -> list[_Hit]:
        """The matches worth reporting, by line: one per key and line, renamed ones only where no verbatim
        one is, runs only where one of their two lines is not reported already."""
        first: dict[tuple[int, str], _Hit] = {}
        for hit in self.hits(lines):
            first.setdefault((hit.number, hit.key), hit)
        verbatim = {(h.number, s) for h in first.values() if h.how == "verbatim" for s in h.secrets}
        kept = [h for h in first.values() if h.how != "renamed" or (h.number, h.secrets[0]) not in verbatim]
        flagged = {hit.number for hit in kept if hit.how != "run"}
        kept = [hit for hit in kept if hit.how != "run" or not {hit.number, hit.last} <= flagged]
        return sorted(kept, key=lambda hit: hit.number)

    def _inside(self, lines: list[Line]) -> list[_Hit]:
        """Secrets whose text appears in a line between word boundaries (inside a docstring, a hint)."""
        keys = [text_key(text) for _, text in lines]
        haystack = "\n".join(keys)
        starts = [0]
        for key in keys[:-1]:
            starts.append(starts[-1] + len(key) + 1)
        hits: list[_Hit] = []
        for needle, secrets in self.texts.items():
            at = haystack.find(needle)
            while at >= 0:
                end = at + len(needle)
                open_start = _is_word(needle[0]) and at > 0 and _is_word(haystack[at - 1])
                open_end = _is_word(needle[-1]) and end < len(haystack) and _is_word(haystack[end])
                if not (open_start or open_end):
                    number, text = lines[bisect_right(starts, at) - 1]
                    hits.append(_Hit(number, needle, tuple(secrets), "verbatim", text.strip()))
                at = haystack.find(needle, at + 1)
        return hits

    def _whole(self, lines: list[Line]) -> list[_Hit]:
        """Lines, lines without markup and `code spans` equal to a secret, verbatim or renamed."""
        hits: list[_Hit] = []
        for number, text in lines:
            stripped = text.strip()
            candidates = {stripped, _unmarked(stripped), *_SPAN.findall(stripped)} if stripped else ()
            for candidate in candidates:
                code = _lex(candidate).code
                if (key := text_key(code)) in self.lines:
                    hits.append(_Hit(number, key, tuple(self.lines[key]), "verbatim", code))
                if self.codes and (key := code_key(code, self.policy) or "") in self.codes:
                    hits.append(_Hit(number, key, tuple(self.codes[key]), "renamed", code))
        return hits

    def _runs(self, lines: list[Line]) -> list[_Hit]:
        """Two consecutive lines equal to a run, names renamed (see `_pairs`)."""
        return [
            _Hit(first, key, (key,), "run", f"{code} / {then}", second)
            for first, code, second, then in (_pairs(lines, self.policy) if self.runs else ())
            if _lex(code).key in self.firsts and (key := run_key(code, then)) in self.runs
        ]


def _split(text: str, rel: Path) -> tuple[list[list[Line]], list[list[Line]]]:
    """The public code of a source, in stretches between regions, docstrings and comments, and its regions;
    each as (number, line)s. Docstrings and comments are not public code: a solution line in one leaks."""
    inside = dict(solution_lines(text, rel))
    public: list[list[Line]] = [[]]
    regions: list[list[Line]] = []
    quote = ""  # of the string the line starts in
    for number, line in enumerate(text.split("\n"), start=1):
        if quote:
            prose, quote = True, _lex(line.split(quote, 1)[1]).opens if quote in line else quote
        else:
            lexed = _lex(line)
            prose = not lexed.code or line.lstrip().lstrip("rRbBuUfF")[:1] in ("'", '"')
            quote = lexed.opens
        if number in inside:
            if number - 1 not in inside:
                regions.append([])
            regions[-1].append((number, inside[number]))
        if number in inside or (prose and line.strip() and not line.strip().startswith("#")):
            if public[-1]:
                public.append([])  # regions and docstrings break runs, blank and comment lines do not
        elif not prose:
            public[-1].append((number, line))
    return public, regions


def secret_lines(sources: Iterable[Path], root: Path, policy: ReleasePolicy = DEFAULT_POLICY) -> Secrets:
    """Distinctive solution lines of the `sources` (stripped) -> "file:line", with their runs of two.

    Left out: comments, lines shorter than `policy.min_secret_length` without their comment, trivia such
    as `return result`, and every line that the same matching finds in the public code of the sources
    (outside all regions, docstrings and comments: `N, C, H, W = x.shape`, an import), verbatim or
    renamed. A run is left out only when each of its lines is public code on its own, away from any
    copy of a run (`for i in range(H):` then `for j in range(W):`): two solution lines in a row in a
    helper are a copy, not boilerplate.
    """
    lines: dict[str, str] = {}
    pairs: dict[str, tuple[str, str, str]] = {}  # run key -> where, first line, second line
    public: list[list[Line]] = []
    for path in sources:
        rel = path.relative_to(root)
        stretches, regions = _split(path.read_text(encoding="utf-8"), rel)
        public += stretches
        for region in regions:
            for number, line in region:
                if _distinctive(_lex(line).code, policy):
                    lines.setdefault(line, f"{rel.as_posix()}:{number}")
            for number, first, _, second in _pairs(region, policy):
                if len(_lex(first).tokens) + len(_lex(second).tokens) >= policy.min_renamed_tokens:
                    pairs.setdefault(run_key(first, second), (f"{rel.as_posix()}:{number}", first, second))
    matcher = _Matcher(Secrets(lines, {key: where for key, (where, _, _) in pairs.items()}), policy)
    shown: set[str] = set()
    seen: set[str] = set()  # public code lines, by key, away from copies of runs
    for stretch in public:
        hits = matcher.hits(stretch)
        shown.update(secret for hit in hits if hit.how != "run" for secret in hit.secrets)
        copied = {n for hit in hits if hit.how == "run" for n in (hit.number, hit.last)}
        seen.update(_lex(line).key for number, line in stretch if number not in copied)
    return Secrets(
        {line: where for line, where in lines.items() if line not in shown},
        {
            key: where
            for key, (where, first, second) in pairs.items()
            if not (_lex(first).key in seen and _lex(second).key in seen)
        },
    )


def _lines_of(text: str) -> list[Line]:
    """The lines of a released file; a JSON string line (a notebook's cell source) gives its decoded lines."""
    lines: list[Line] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        body = raw.strip().rstrip(",")
        if len(body) >= 2 and body[0] == body[-1] == '"':
            try:
                value = json.loads(body)
            except ValueError:
                value = None
            if isinstance(value, str):
                lines.extend((number, part) for part in value.removesuffix("\n").split("\n"))
                continue
        lines.append((number, raw))
    return lines


def _describe(hit: _Hit, secrets: Mapping[str, str], runs: Mapping[str, str]) -> str:
    if hit.how == "run":
        return f"solution lines from {runs[hit.key]}, two in a row: {hit.text!r}"
    if hit.how == "renamed":
        return f"solution line from {secrets[hit.secrets[0]]}, names changed: {hit.text!r}"
    return f"solution line from {secrets[hit.secrets[0]]}: {hit.secrets[0]!r}"


def find_leaks(
    out_dir: Path, secrets: Mapping[str, str], policy: ReleasePolicy = DEFAULT_POLICY
) -> list[Leak]:
    """Every leak in the released tree at `out_dir`: forbidden paths, marker text, solution lines and runs.

    `secrets` as `secret_lines` returns them, maybe with other solution lines merged in (a notebook's).
    Text files are scanned line by line, notebooks cell line by cell line (the JSON file's line named).
    """
    matcher = _Matcher(secrets, policy)
    leaks: list[Leak] = []
    for path in sorted(out_dir.rglob("*")):
        rel = path.relative_to(out_dir)
        reason = policy.forbidden(rel)
        if reason:
            leaks.append(Leak(rel, 0, f"must not be released ({reason})"))
            continue
        if path.is_dir():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary files (images) cannot carry source lines
        found = [
            Leak(rel, number, "solution marker text left in the release")
            for number, line in enumerate(text.split("\n"), start=1)
            if any(marker in line for marker in LEAK_MARKERS)
        ]
        hits = matcher.scan(_lines_of(text))
        found += [Leak(rel, hit.number, _describe(hit, secrets, matcher.runs)) for hit in hits]
        leaks += sorted(found, key=lambda leak: leak.line)
    return leaks
