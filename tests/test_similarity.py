"""`autograder similarity` on a corpus built from the kit's reference: four students who solved the three
unpooling exercises independently and differently, one who copied the first with renamed variables and
reordered functions, and one who handed in the untouched skeleton."""

from __future__ import annotations

import ast
import contextlib
import io
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from autograder.cli import main
from autograder.grading.notebooks.source import released_form
from autograder.release import release
from autograder.release.markers import find_regions
from autograder.release.notebooks.build import read_source, source_notebooks
from autograder.similarity import Place, SimilaritySettings
from autograder.similarity.documents import python_part
from autograder.similarity.html import percent
from autograder.similarity.own import own_lines

REPO = Path(__file__).resolve().parents[1]
UNPOOLING = "exercise_code/layers/unpooling.py"
NOTEBOOK = "notebooks/01_unpooling_transpose_conv.ipynb"

INDEPENDENT_MAX = 0.25
"""Highest score two independent solutions may reach. Each student's own code here is three short
functions (about 220 copydetect tokens); one shared idiom such as `return t.view(N, C, H * sh, W * sw)`
(25-30 tokens: names are normalised away) is about 12%, and such coincidences are what is left between
independent solutions. 25% allows two of them; the copy scores over 90%."""

HOSTILE = '# </pre><script>alert("x")</script>'
"""A comment inside a copied region: the report must show it as text."""

ALICE = {
    "nearest_unpool2d": f"""\
rows = torch.arange(x.shape[2] * sh, device=x.device) // sh
{HOSTILE}
cols = torch.arange(x.shape[3] * sw, device=x.device) // sw
return x[:, :, rows][:, :, :, cols]
""",
    "bed_of_nails_unpool2d": """\
N, C, H, W = x.shape
canvas = torch.zeros((N, C, H, sh, W, sw), dtype=x.dtype, device=x.device)
canvas[:, :, :, 0, :, 0] = x
return canvas.view(N, C, H * sh, W * sw)
""",
    "max_unpool2d": """\
N, C, H, W = x.shape
flat = torch.zeros(N * C, H_out * W_out, dtype=x.dtype, device=x.device)
flat.scatter_(1, indices.flatten(2).flatten(0, 1), x.flatten(2).flatten(0, 1))
return flat.view(N, C, H_out, W_out)
""",
}
BOB = {
    "nearest_unpool2d": """\
n, c, h, w = x.shape
big = x[:, :, :, None, :, None].expand(n, c, h, sh, w, sw)
return big.reshape(n, c, h * sh, w * sw)
""",
    "bed_of_nails_unpool2d": """\
mask = torch.zeros(sh, sw, dtype=x.dtype, device=x.device)
mask[0, 0] = 1
return torch.kron(x, mask)
""",
    "max_unpool2d": """\
n, c = x.shape[:2]
out = torch.zeros(n, c, H_out * W_out, dtype=x.dtype, device=x.device)
batch = torch.arange(n, device=x.device).view(n, 1, 1)
chan = torch.arange(c, device=x.device).view(1, c, 1)
out[batch, chan, indices.view(n, c, -1)] = x.view(n, c, -1)
return out.view(n, c, H_out, W_out)
""",
}
CHEN = {
    "nearest_unpool2d": """\
block = torch.ones(sh, sw, dtype=x.dtype, device=x.device)
return torch.kron(x, block)
""",
    "bed_of_nails_unpool2d": """\
n, c, h, w = x.shape
grid = x.new_zeros(n, c, h * sh, w * sw)
ii = torch.arange(h, device=x.device) * sh
jj = torch.arange(w, device=x.device) * sw
grid[:, :, ii[:, None], jj[None, :]] = x
return grid
""",
    "max_unpool2d": """\
N, C = x.shape[:2]
planes = []
for plane, where in zip(x.reshape(N * C, -1), indices.reshape(N * C, -1)):
    canvas = x.new_zeros(H_out * W_out)
    canvas[where] = plane
    planes.append(canvas)
if not planes:
    return x.new_zeros(N, C, H_out, W_out)
return torch.stack(planes).reshape(N, C, H_out, W_out)
""",
}
DARA = {
    "nearest_unpool2d": """\
N, C, H, W = x.shape
result = torch.empty(N, C, H * sh, W * sw, dtype=x.dtype, device=x.device)
for i in range(sh):
    for j in range(sw):
        result[:, :, i::sh, j::sw] = x
return result
""",
    "bed_of_nails_unpool2d": """\
N, C, H, W = x.shape
result = torch.zeros(N, C, H * sh, W * sw, dtype=x.dtype, device=x.device)
for i in range(H):
    for j in range(W):
        result[:, :, i * sh, j * sw] = x[:, :, i, j]
return result
""",
    "max_unpool2d": """\
N, C, H, W = x.shape
onehot = torch.nn.functional.one_hot(indices.reshape(N, C, H * W), H_out * W_out).to(x.dtype)
out = torch.einsum("ncp,ncpq->ncq", x.reshape(N, C, H * W), onehot)
return out.reshape(N, C, H_out, W_out)
""",
}
COPY_RENAMES = {"rows": "row_idx", "cols": "col_idx", "canvas": "buf", "flat": "tmp"}

ALICE_CELL = '''\
def compare_unpooling(x, scale=2):
    """How far each unpooling is from nearest interpolation."""
    ref = torch.nn.functional.interpolate(x, scale_factor=scale, mode="nearest")
    for name, fn in (("nearest", layers.nearest_unpool2d), ("nails", layers.bed_of_nails_unpool2d)):
        print(f"{name:>8}: max difference {(fn(x, scale) - ref).abs().max().item():.3g}")
'''
"""Alice's own notebook cell (appended); the copy has it renamed, earlier in the notebook."""

INDEPENDENT = ("alice", "bob", "chen", "dara")


# --- the corpus ------------------------------------------------------------------------------------------


def with_solutions(text: str, bodies: dict[str, str]) -> str:
    """The reference `text` as a student hands it in: marker lines gone, the named regions replaced."""
    lines = text.split("\n")
    out: list[str] = []
    cursor = 0
    for region in find_regions(text, Path("student.py")):
        out += lines[cursor : region.begin - 1]
        body = bodies.get(region.function)
        if body is None:
            out += lines[region.begin : region.end - 1]
        else:
            out += [region.indent + line if line else line for line in body.rstrip("\n").split("\n")]
        cursor = region.end
    return "\n".join(out + lines[cursor:])


def reversed_functions(text: str) -> str:
    """`text` with its top-level functions (decorators included) in reverse order."""
    lines = text.split("\n")
    functions = [node for node in ast.parse(text).body if isinstance(node, ast.FunctionDef)]
    starts = [min([f.lineno] + [d.lineno for d in f.decorator_list]) - 1 for f in functions]
    chunks = [
        "\n".join(lines[a:b]).rstrip("\n") for a, b in zip(starts, starts[1:] + [len(lines)], strict=True)
    ]
    return "\n".join(lines[: starts[0]]) + "\n" + "\n\n\n".join(reversed(chunks)) + "\n"


def renamed(text: str) -> str:
    for old, new in COPY_RENAMES.items():
        text = re.sub(rf"\b{old}\b", new, text)
    return text


def released_notebooks(kit: Path) -> dict[str, nbformat.NotebookNode]:
    """The kit's notebooks as students get them (nbgrader's preprocessors)."""
    return {
        f"notebooks/{path.stem}.ipynb": released_form(read_source(path)[0])
        for path in source_notebooks(kit / "notebooks")
    }


def write_student(
    root: Path, kit: Path, bodies: dict[str, str], cell: str | None = None, copy: bool = False
) -> Path:
    """A student folder: the kit's reference with `bodies` in place of those solutions (and the markers
    gone); `cell` appended to the released notebook; `copy`: renamed, functions and cell moved."""
    shutil.copytree(kit / "exercise_code", root / "exercise_code")
    path = root / UNPOOLING
    text = with_solutions(path.read_text(encoding="utf-8"), bodies)
    path.write_text(reversed_functions(renamed(text)) if copy else text, encoding="utf-8")
    if cell is not None:
        nb = released_notebooks(kit)[NOTEBOOK]
        new = nbformat.v4.new_code_cell(renamed(cell) if copy else cell)
        if copy:
            nb.cells.insert(3, new)
        else:
            nb.cells.append(new)
        (root / "notebooks").mkdir()
        nbformat.write(nb, root / NOTEBOOK)
    return root


@pytest.fixture(scope="module")
def kit(tmp_path_factory) -> Path:
    """A snapshot of the kit (package and source notebooks): the corpus and the run read the same text."""
    kit = tmp_path_factory.mktemp("kit")
    shutil.copytree(
        REPO / "exercise_code", kit / "exercise_code", ignore=shutil.ignore_patterns("__pycache__")
    )
    (kit / "notebooks").mkdir()
    for path in source_notebooks(REPO / "notebooks"):
        shutil.copy(path, kit / "notebooks" / path.name)
    return kit


@pytest.fixture(scope="module")
def corpus(kit, tmp_path_factory) -> Path:
    subs = tmp_path_factory.mktemp("submissions")
    write_student(subs / "alice", kit, ALICE, cell=ALICE_CELL)
    write_student(subs / "bob", kit, BOB)
    write_student(subs / "chen", kit, CHEN)
    write_student(subs / "dara", kit, DARA)
    write_student(subs / "copycat", kit, ALICE, cell=ALICE_CELL, copy=True)
    # the skeleton as `autograder release` makes it, and the notebooks as nbgrader releases them
    release(source=kit, out=subs / "_release", notebooks=False)
    shutil.copytree(subs / "_release" / "exercise_code", subs / "skeleton" / "exercise_code")
    shutil.rmtree(subs / "_release")
    (subs / "skeleton" / "notebooks").mkdir()
    for name, nb in released_notebooks(kit).items():
        nbformat.write(nb, subs / "skeleton" / name)
    write_mallory(subs / "mallory", subs / "skeleton")
    return subs


def write_mallory(root: Path, skeleton: Path) -> None:
    """The skeleton saved by a Windows editor (BOM, CRLF), a notebook that is not JSON, a huge file."""
    shutil.copytree(skeleton / "exercise_code", root / "exercise_code")
    path = root / UNPOOLING
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    (root / "exercise_code" / "huge.py").write_text("x = 1\n" * 100_000)
    (root / "notebooks").mkdir()
    (root / NOTEBOOK).write_text("{ not a notebook")


@pytest.fixture(scope="module")
def run(kit, corpus, tmp_path_factory) -> dict:
    """`autograder similarity` on the corpus: exit code, output and both reports."""
    out = tmp_path_factory.mktemp("similarity")
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["similarity", str(corpus), "--out", str(out), "--source", str(kit), "--details", "20"])
    assert code == 0, stderr.getvalue()
    report = json.loads((out / "similarity.json").read_text(encoding="utf-8"))
    html = (out / "similarity.html").read_text(encoding="utf-8")
    pairs = {frozenset((p["a"], p["b"])): p for p in report["pairs"]}
    return {"out": out, "stdout": stdout.getvalue(), "json": report, "html": html, "pairs": pairs}


def pair(run: dict, a: str, b: str) -> dict:
    return run["pairs"][frozenset((a, b))]


def side(entry: dict, student: str) -> str:
    """Which side of a pair in similarity.json `student` is on: `a` or `b`."""
    return "a" if entry["a"] == student else "b"


# --- what the ranking says ---------------------------------------------------------------------------


def test_the_copy_ranks_above_every_independent_pair(run):
    copy = pair(run, "alice", "copycat")
    assert copy["rank"] == 1
    assert copy[f"share_{side(copy, 'alice')}"] > 0.9  # (nearly) all of alice's code is in the copy
    others = [p for p in run["json"]["pairs"] if p is not copy]
    assert copy["score"] > max(p["score"] for p in others)


@pytest.mark.parametrize("a, b", [(a, b) for i, a in enumerate(INDEPENDENT) for b in INDEPENDENT[i + 1 :]])
def test_independent_correct_solutions_score_low(run, a, b):
    assert pair(run, a, b)["score"] < INDEPENDENT_MAX


def test_the_untouched_skeleton_scores_zero_with_everyone(run):
    scores = {
        other: pair(run, "skeleton", other)["score"] for other in ("alice", "bob", "chen", "dara", "copycat")
    }
    assert max(scores.values()) < 0.01, scores
    (skeleton,) = [s for s in run["json"]["students"] if s["student"] == "skeleton"]
    assert skeleton["own_tokens"] == 0


def test_files_that_cannot_be_compared_are_named_and_starter_code_saved_on_windows_is_still_starter(run):
    (mallory,) = [s for s in run["json"]["students"] if s["student"] == "mallory"]
    assert mallory["notes"] == [
        "exercise_code/huge.py: left out (over 512 KB)",
        f"{NOTEBOOK}: left out (not a notebook)",
    ]
    assert mallory["own_tokens"] == 0 and mallory["files_compared"] == 0


def test_matching_regions_name_files_lines_and_notebook_cells(run):
    copy = pair(run, "alice", "copycat")
    alice, copycat = side(copy, "alice"), side(copy, "copycat")
    files = {r[alice]["file"] for r in copy["regions"]}
    assert files == {UNPOOLING, NOTEBOOK}
    (cell,) = [r for r in copy["regions"] if r[alice]["file"] == NOTEBOOK]
    assert cell[copycat]["cell"] == 4  # inserted as the fourth cell
    assert cell[alice]["cell"] > 4  # appended
    assert 1 <= cell[alice]["first_line"] <= cell[alice]["last_line"] <= 5
    assert "def compare_unpooling" in cell[f"code_{alice}"]
    code = [r for r in copy["regions"] if r[alice]["file"] == UNPOOLING]
    assert sorted(r[f"code_{alice}"].split("\n")[0].split("=")[0].strip() for r in code) == [
        "canvas",
        "flat",
        "rows",
    ]


# --- the command and its reports ---------------------------------------------------------------------


def test_cli_writes_both_reports_and_prints_the_ranking(run):
    assert (run["out"] / "similarity.json").is_file() and (run["out"] / "similarity.html").is_file()
    lines = run["stdout"].splitlines()
    assert re.match(r"\s+1\s+\d+\.\d%.*(alice ~ copycat|copycat ~ alice)$", lines[1])
    assert f"report: {run['out'] / 'similarity.html'}" in run["stdout"]
    assert f"data:   {run['out'] / 'similarity.json'}" in run["stdout"]


class _Page(HTMLParser):
    """The text of each row of the pairs table, and of each `where` label and `pre` block."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.wheres: list[str] = []
        self.pres: list[str] = []
        self._table = ""
        self._cell: list[str] | None = None
        self._into: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = attrs.get("id", "")
        elif tag == "tr" and self._table == "pairs":
            self.rows.append([])
        elif tag == "td" and self._table == "pairs":
            self._cell = []
        elif tag == "pre" or (tag == "div" and attrs.get("class") == "where"):
            self._into = []

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None
        elif tag in ("pre", "div") and self._into is not None:
            (self.pres if tag == "pre" else self.wheres).append("".join(self._into))
            self._into = None
        elif tag == "table":
            self._table = ""

    def handle_data(self, data):
        for sink in (self._cell, self._into):
            if sink is not None:
                sink.append(data)


def test_the_html_shows_what_the_json_holds(run):
    page = _Page()
    page.feed(run["html"])
    rows = [row for row in page.rows if row]
    expected = [
        [
            str(p["rank"]),
            p["a"],
            p["b"],
            percent(p["score"]),
            percent(p["share_a"]),
            percent(p["share_b"]),
            str(len(p["regions"])),
        ]
        for p in run["json"]["pairs"][: run["json"]["settings"]["table_rows"]]
    ]
    assert rows == expected
    shown = [p for p in run["json"]["pairs"][:20] if p["regions"]]
    sides = [(p[who], r[who], r[f"code_{who}"]) for p in shown for r in p["regions"] for who in ("a", "b")]
    assert page.wheres == [f"{student}: {Place(**place).label()}" for student, place, _ in sides]
    assert page.pres == [code for _, _, code in sides]


def test_student_code_is_escaped_in_the_html(run):
    assert any(HOSTILE in r["code_a"] + r["code_b"] for r in pair(run, "alice", "copycat")["regions"])
    assert "<script>" not in run["html"]
    assert "&lt;/pre&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in run["html"]


# --- own lines ---------------------------------------------------------------------------------------

SKELETON = '''def double(x):
    """Twice x.

    Returns a tensor of the shape of x.
    """
    check(x)
    # TODO: write your solution here (see the docstring above)
    raise NotImplementedError("double: not implemented yet")


def triple(x):
    """Three times x.

    Returns a tensor of the shape of x.
    """
    check(x)
    size = x.shape
    # TODO: write your solution here (see the docstring above)
    raise NotImplementedError("triple: not implemented yet")
'''
STUDENT = '''def triple(x):
    """Three times x.

    Returns a tensor of the shape of x (x + x + x).
    """
    check(x)
    size = x.shape
    return x * 3


def double(x):
    """Twice x.

    Returns a tensor of the shape of x.
    """
    check(x)
    y = x + x
    return y
'''


def own_text(student: str, *versions: str) -> list[str]:
    part = python_part("m.py", student)
    return [
        part.lines[n].strip() for n in sorted(own_lines(part, [python_part("m.py", v) for v in versions]))
    ]


def test_own_lines_are_what_no_starter_version_has_moved_functions_included():
    docstring = [
        '"""Three times x.',
        "",
        "Returns a tensor of the shape of x (x + x + x).",
        '"""',
    ]  # kept whole
    assert own_text(STUDENT, SKELETON) == [*docstring, "return x * 3", "y = x + x", "return y"]
    reference = SKELETON.replace(
        '    raise NotImplementedError("double: not implemented yet")', "    y = x + x"
    )
    assert own_text(STUDENT, SKELETON, reference) == [*docstring, "return x * 3", "return y"]


def test_without_starter_versions_every_code_line_is_own():
    code = [line.strip() for line in STUDENT.split("\n") if line.strip()]
    assert [text for text in own_text(STUDENT) if text] == code  # and the blank line inside the docstring


# --- errors --------------------------------------------------------------------------------------------


def test_a_missing_path_is_a_usage_error(tmp_path, capsys):
    assert main(["similarity", str(tmp_path / "nope"), "--out", str(tmp_path / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_fewer_than_two_submissions_is_an_error(tmp_path, capsys):
    (tmp_path / "only" / "exercise_code").mkdir(parents=True)
    assert main(["similarity", str(tmp_path / "only"), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "autograder similarity: error: similarity needs at least two submissions, got 1" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "kwargs, message",
    [({"noise": 0}, "noise must be a positive int"), ({"guarantee": 10}, "guarantee must be at least noise")],
)
def test_bad_settings_name_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SimilaritySettings(**kwargs)
