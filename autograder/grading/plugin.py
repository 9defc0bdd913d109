"""The pytest plugin that runs hidden suites against one submission and records a result per test case.

Fixtures: `submission`, `grading_seed`, `hidden_key`, `config`, `hidden_data_dir`, `record_fraction`,
`record_message`.
Exceptions from the sandbox map to statuses (see `classify`); points come from the rubric, split evenly
over a parametrised test's cases; once the submission's time budget is used up, tests are not run.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from autograder.errors import (
    ForbiddenCall,
    MissingPart,
    RefusedReply,
    SandboxCrash,
    SandboxMemoryError,
    SandboxTimeout,
    StudentCodeError,
)

from .proxy import Submission
from .results import TestResult, TestStatus
from .rubric import RubricEntry, rubric_key

log = logging.getLogger(__name__)
RUN = pytest.StashKey["GradingRun"]()
NOT_IMPLEMENTED = "not implemented yet"
WRONG_RESULT = "wrong result"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ASSERT_AT = re.compile(  # the failed condition stays
    r'(?<!\s)\s*INTERNAL ASSERT FAILED at "?[^"\s]*"?(?::\d+)?,?(?: please report a bug to PyTorch\.)?'
)
_ADVICE = re.compile(r"report a bug|file an issue|bug in PyTorch|can still be loaded|safe_globals")
"""Marks a sentence of torch's advice to its developers or to trusted users: dropped whole."""
_SENTENCE_END = re.compile(r"((?<=[.!?])\s+|\n)")
_UNSAFE = r"(?<!\s)\s*(?:\(1\) )?In PyTorch 2\.6, we changed the default value of .*?trusted source\."
_HINTS = r"(?<!\s)\s*(?:\(2\) Alternatively, to load with|Check the documentation of torch\.load)[^\n]*"
_TORCH_NOISE = (  # (pattern, replacement), each linear in the text (a `\s*` starts only where a run starts)
    (re.compile(r"(?<!\s)\s*Exception raised from .*", re.S), ""),  # a C++ stack trace, to the end
    (re.compile(_UNSAFE, re.S), ""),  # weights_only's advice to load unsafely
    (re.compile(_HINTS), ""),
    (re.compile(r'(?<!\s)\s*(?:at )?"?(?:/__w)?/pytorch/[\w./+-]*"?(?::\d+)?'), ""),  # build paths
    (re.compile(r"(?m)^\t+"), ""),
    (re.compile(r"[ \t]{2,}"), " "),
    (re.compile(r"\n{3,}"), "\n\n"),
)


def _run(request: pytest.FixtureRequest) -> GradingRun:
    return request.config.stash[RUN]


@pytest.fixture(scope="session")
def submission(request: pytest.FixtureRequest) -> Submission:
    """The student's submission (proxy to the sandboxed worker)."""
    return _run(request).submission


@pytest.fixture(scope="session")
def grading_seed(request: pytest.FixtureRequest) -> int:
    """The seed of this grading run; derive randomised cases from it."""
    return _run(request).seed


@pytest.fixture(scope="session")
def hidden_key(request: pytest.FixtureRequest) -> int:
    """The run's secret key: derive hidden scenes and digits from it (it never reaches the sandbox)."""
    return _run(request).hidden_key


@pytest.fixture(scope="session")
def config(request: pytest.FixtureRequest) -> Any:
    """The assignment config of the TRUSTED kit (never the student's)."""
    from exercise_code.config import CONFIG

    return CONFIG


@pytest.fixture(scope="session")
def hidden_data_dir(request: pytest.FixtureRequest) -> Path:
    """Trusted-only data (e.g. hidden labels); never mounted in the sandbox."""
    return _run(request).hidden_data_dir


@pytest.fixture
def record_fraction(request: pytest.FixtureRequest) -> Any:
    """`record_fraction(x)`: a passing test earns only the fraction x in [0, 1] of its points."""
    record = _run(request).record(request.node)

    def set_fraction(x: float) -> None:
        x = float(x)
        if not 0.0 <= x <= 1.0 or x != x:
            raise ValueError(f"fraction must be in [0, 1], got {x}")
        record.fraction = x

    return set_fraction


@pytest.fixture
def record_message(request: pytest.FixtureRequest) -> Any:
    """`record_message(text)`: feedback attached to the test's result (e.g. the measured metric)."""
    record = _run(request).record(request.node)

    def set_message(text: str) -> None:
        record.notes.append(str(text))

    return set_message


@dataclass
class _Record:
    status: TestStatus | None = None
    message: str = ""
    passed: bool = False
    fraction: float = 1.0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def _student_location(error: StudentCodeError) -> str:
    frames = [line.strip() for line in error.traceback.splitlines() if line.strip().startswith("File ")]
    if not frames:
        return ""
    parts = frames[-1].replace('"', "").replace(",", "").split()  # File path line N in fn
    return f" (at {parts[1]}:{parts[3]} in {parts[5]})" if len(parts) >= 6 else ""


def student_message(text: str) -> str:
    """A message as a student should read it: without torch's notes to its own developers ("please
    report a bug to PyTorch", "INTERNAL ASSERT FAILED at /pytorch/...:N", C++ stack traces)."""
    text = _ASSERT_AT.sub(": an internal PyTorch check failed.", _ANSI.sub("", text))
    pieces = _SENTENCE_END.split(text)  # sentence, separator, sentence, ...
    cleaned = "".join(p for i, p in enumerate(pieces) if i % 2 or not _ADVICE.search(p))
    for pattern, replacement in _TORCH_NOISE:
        cleaned = pattern.sub(replacement, cleaned)
    cleaned = "\n".join(line.rstrip() for line in cleaned.strip().removeprefix(": ").splitlines())
    return cleaned or ("PyTorch failed internally" if text.strip() else "")


def assertion_message(exc: BaseException) -> str:
    """The assertion's own message: pytest's rewriting explanation (`assert ...`, `+  where ...`) cut off;
    "wrong result" for an assert without a message."""
    lines = str(exc).strip().splitlines()
    cut = next((i for i, line in enumerate(lines) if line.startswith("assert ")), len(lines))
    return "\n".join(lines[:cut]).strip() or WRONG_RESULT


class GradingRun:
    """Hook implementations plus the results of one pytest session over the hidden suites."""

    def __init__(
        self,
        *,
        submission: Submission,
        suites: Path,
        rubric: dict[str, RubricEntry],
        seed: int,
        hidden_data_dir: Path,
        hidden_key: int = 0,
        deadline: float,
        submission_s: float,
        message_chars: int = 1000,
    ) -> None:
        self.submission, self.suites, self.rubric = submission, suites.resolve(), rubric
        self.seed, self.hidden_data_dir, self.hidden_key = seed, hidden_data_dir, hidden_key
        self.deadline, self.submission_s, self.message_chars = deadline, submission_s, message_chars
        self.results: list[TestResult] = []
        self.budget_exhausted = False
        self.collection_errors: list[str] = []
        self._records: dict[str, _Record] = {}
        self._items: dict[str, pytest.Item] = {}
        self._cases: Counter[str] = Counter()

    # --- names and points ----------------------------------------------------------------------------

    def name(self, item: pytest.Item) -> str:
        path = Path(str(item.path)).resolve()
        rel = path.relative_to(self.suites).as_posix() if path.is_relative_to(self.suites) else path.name
        return "::".join([rel, *item.nodeid.split("::")[1:]])

    def record(self, item: pytest.Item) -> _Record:
        return self._records.setdefault(item.nodeid, _Record())

    # --- hooks ---------------------------------------------------------------------------------------

    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[RUN] = self

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        self._cases = Counter(rubric_key(self.name(item)) for item in items)
        files = {key.split("::", 1)[0] for key in self._cases}
        for key in sorted(self.rubric.keys() - self._cases.keys()):
            if key.split("::", 1)[0] in files:  # a suite file left out on purpose (verify) is no mistake
                log.warning("rubric entry %s matches no collected test", key)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.append(f"{report.nodeid}: {str(report.longrepr)[-2000:]}")
            log.error("hidden suite failed to collect: %s", report.longrepr)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
        self.submission.current_case = self.name(item)
        if self.budget_exhausted or time.monotonic() >= self.deadline:
            self.budget_exhausted = True
            rec = self.record(item)
            rec.status = TestStatus.TIMEOUT
            rec.message = f"not run: the submission's time budget of {self.submission_s:g} s was used up"
            self._finish(item)
            return True
        return None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> Any:
        outcome = yield
        report = outcome.get_result()
        rec = self.record(item)
        rec.seconds += call.duration
        if rec.status is not None:
            return
        if report.failed and call.excinfo is not None:
            rec.status, rec.message = self.classify(call.excinfo.value)
        elif report.skipped and call.when != "teardown":
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            rec.status, rec.message = TestStatus.FAILED, f"skipped: {reason}"
        elif call.when == "call" and report.passed:
            rec.passed = True

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "teardown":
            if report.nodeid in self._items:
                self._finish(self._items[report.nodeid])

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._items = {item.nodeid: item for item in session.items}

    # --- outcome -------------------------------------------------------------------------------------

    def classify(self, exc: BaseException) -> tuple[TestStatus, str]:
        """Status and student-facing message (see `student_message`) for an exception raised in a test."""
        status, message = self._classify(exc)
        return status, student_message(message)

    def _classify(self, exc: BaseException) -> tuple[TestStatus, str]:
        if isinstance(exc, StudentCodeError):
            if exc.not_implemented:
                return TestStatus.FAILED, NOT_IMPLEMENTED
            return (
                TestStatus.ERROR,
                f"your code raised {exc.type_name}: {exc.message}{_student_location(exc)}",
            )
        if isinstance(exc, SandboxTimeout):
            self.budget_exhausted = self.budget_exhausted or exc.budget
            return TestStatus.TIMEOUT, str(exc)
        if isinstance(exc, SandboxMemoryError):
            return TestStatus.MEMORY, str(exc)
        if isinstance(exc, SandboxCrash):
            return TestStatus.CRASHED, str(exc)
        if isinstance(exc, RefusedReply):
            return TestStatus.ERROR, str(exc)
        if isinstance(exc, ForbiddenCall):
            return TestStatus.FORBIDDEN, str(exc)
        if isinstance(exc, MissingPart):
            return TestStatus.MISSING, str(exc)
        if isinstance(exc, AssertionError | pytest.fail.Exception):
            return TestStatus.FAILED, assertion_message(exc)
        log.warning("test raised %s: %s", type(exc).__name__, exc)
        return TestStatus.FAILED, f"unexpected result ({type(exc).__name__}: {exc})"

    def _finish(self, item: pytest.Item) -> None:
        rec = self._records.pop(item.nodeid, None) or _Record()
        name = self.name(item)
        key = rubric_key(name)
        entry = self.rubric.get(key, RubricEntry(0.0))
        max_points = entry.points / max(self._cases.get(key, 1), 1)
        status = rec.status or (TestStatus.PASSED if rec.passed else TestStatus.ERROR)
        points = max_points * rec.fraction if status is TestStatus.PASSED else 0.0
        message = rec.message if rec.status is not None or rec.passed else "the test did not run"
        message = "; ".join(m for m in [message, *rec.notes] if m)
        if len(message) > self.message_chars:
            message = message[: self.message_chars - 15] + " ...[truncated]"
        self.results.append(
            TestResult(
                name=name,
                part=entry.part,
                concept=entry.concept,
                points=round(points, 6),
                max_points=round(max_points, 6),
                status=status,
                message=message,
                seconds=round(rec.seconds, 3),
            )
        )
