"""Hostile submissions graded in one batch (--workers 2): each gets the right status, nothing outside its
scratch changes, no secret is read, and every other result stays intact. Needs a working bubblewrap."""

from __future__ import annotations

import io
import json
import socket
import uuid
import zipfile
from pathlib import Path

import pytest
import torch
from grading_helpers import (
    LEGIT_CONV_T,
    processes_mentioning,
    tiny_model_files,
    write_tree,
    zip_tree,
)

from autograder.grading import GradeSettings, Part, grade_batch
from autograder.intake import Manifest
from autograder.intake.manifest import file_sha256
from autograder.sandbox import IsolationChoice, IsolationKind, detect_isolation

pytestmark = pytest.mark.skipif(
    detect_isolation().kind is not IsolationKind.BUBBLEWRAP,
    reason="hostile code is only ever run inside bubblewrap (in process mode it would really act)",
)
REPO = Path(__file__).resolve().parent.parent
TOKEN = uuid.uuid4().hex[:12]
SECRETS = {"suite": f"SUITE-{TOKEN}", "labels": f"LABELS-{TOKEN}", "other": f"OTHER-{TOKEN}"}

SUITE = f"""
import json
import torch
import torch.nn.functional as F

SECRETS = {list(SECRETS.values())!r} + ["hidden grading suites"]


def test_target(submission):
    g = torch.Generator().manual_seed(0)
    x, w = torch.randn(2, 3, 4, 4, generator=g), torch.randn(3, 2, 2, 2, generator=g)
    got = submission.call("exercise_code.layers.conv_transpose2d", x, w)
    torch.testing.assert_close(got, F.conv_transpose2d(x, w))


def test_probe(submission, record_message):
    text = json.dumps(submission.call("exercise_code.probe.run"), default=str)
    record_message(text[:3000])
    assert not any(secret in text for secret in SECRETS), "a secret leaked into the sandbox"
    assert "root:" not in text


def test_model(submission):
    assert tuple(submission.load_model("tiny")(torch.ones(2, 3)).shape) == (2, 2)


def test_after(submission):
    assert submission.call("exercise_code.probe.ok") == 42
"""
RUBRIC = "".join(
    f'["test_adv.py::test_{n}"]\npoints = {p}\n'
    for n, p in [("target", 4), ("probe", 1), ("model", 1), ("after", 1)]
)
FORBIDDEN = (
    '"exercise_code.layers.conv_transpose2d" = ["torch.nn.functional.conv_transpose2d", '
    '"torch.nn.ConvTranspose2d", "torch.conv_transpose2d"]\n'
)
OK = "\ndef ok():\n    return 42\n"


def _sub(tmp: Path, *, target: str = LEGIT_CONV_T, probe: str = "def run():\n    return 'ok'\n", extra=None):
    files = {
        "exercise_code/__init__.py": "",
        "exercise_code/layers/__init__.py": target,
        "exercise_code/probe.py": probe + OK,
        "notebooks/01.ipynb": "{}",
        **tiny_model_files(tmp),
    }
    return {**files, **(extra or {})}


class _Marker:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture(scope="module")
def adversarial(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("adv")
    suite = write_tree(
        tmp / "suite", {"test_adv.py": SUITE, "rubric.toml": RUBRIC, "forbidden.toml": FORBIDDEN}
    )
    write_tree(suite / "data", {"labels.txt": SECRETS["labels"], "../hidden_secret.txt": SECRETS["suite"]})
    subs, out, marker = tmp / "subs", tmp / "out", tmp / "PWNED_MARKER"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    paths = {
        "control": str(suite / "test_adv.py"),
        "suite": str(suite / "hidden_secret.txt"),
        "labels": str(suite / "data" / "labels.txt"),
        "other_source": str(subs / "control" / "exercise_code" / "secret_note.txt"),
        "other_copy": str(out / "work" / "control" / "submission" / "exercise_code" / "secret_note.txt"),
        "shadow": "/etc/shadow",
        "kit_hidden": str(REPO / "autograder" / "hidden" / "__init__.py"),
        "own_symlink": "/submission/exercise_code/labels_link.txt",
    }
    reader = (
        f"PATHS = {paths!r}\ndef run():\n    out = {{}}\n    for key, path in PATHS.items():\n"
        "        try:\n            out[key] = open(path).read()[:200]\n"
        "        except Exception as exc:\n            out[key] = type(exc).__name__\n    return out\n"
    )
    targets = [
        str(marker.with_name("escape_marker")),
        str(out / "results" / "pwned.json"),
        str(out / "work" / "control" / "submission" / "exercise_code" / "__init__.py"),
        "/submission/exercise_code/__init__.py",
        "/tmp/scratch_ok.txt",
    ]
    escape = (
        f"import socket\nTARGETS = {targets!r}\ndef run():\n    out = {{}}\n    for path in TARGETS:\n"
        "        try:\n            open(path, 'a').write('pwned')\n            out[path] = 'WROTE'\n"
        "        except Exception as exc:\n            out[path] = type(exc).__name__\n"
        f"    for host, port in [('127.0.0.1', {port}), ('1.1.1.1', 53)]:\n"
        "        try:\n            socket.create_connection((host, port), timeout=2)\n"
        "            out[host] = 'CONNECTED'\n"
        "        except Exception as exc:\n            out[host] = type(exc).__name__\n    return out\n"
    )
    loop = "def conv_transpose2d(x, w):\n    while True:\n        pass\n"
    alloc = "import torch\ndef run():\n    return torch.empty(50 * 2**30, dtype=torch.uint8).sum()\n"
    forkbomb = (
        "import os\ndef conv_transpose2d(x, w):\n    while True:\n        try:\n            os.fork()\n"
        "        except OSError:\n            pass\n"
    )
    evil_save = (
        f"import torch\nclass P:\n    def __reduce__(self):\n        return (open, ({str(marker)!r}, 'w'))\n"
        "def run():\n    original = torch.save\n    torch.save = lambda obj, f, *a, **k: original([P()], f)\n"
        "    return torch.ones(1)\n"
    )
    printer = LEGIT_CONV_T.replace(
        "    N, C, H, W = x.shape",
        "    import sys\n    for _ in range(1024):  # a gigabyte\n        sys.stdout.write('x' * 2**20)\n"
        "    N, C, H, W = x.shape",
    )
    killer = (
        "import os, signal\ndef run():\n    try:\n        os.kill(os.getppid(), signal.SIGKILL)\n"
        "    except OSError:\n        pass\n    os.killpg(0, signal.SIGKILL)\n    return 'survived'\n"
    )
    patcher = (
        "import torch\ndef conv_transpose2d(x, w):\n"
        "    torch.testing.assert_close = lambda *a, **k: None\n    torch.allclose = lambda *a, **k: True\n"
        "    torch.Tensor.__eq__ = lambda self, other: True\n"
        "    return torch.zeros(x.shape[0], w.shape[1], x.shape[2] + 1, x.shape[3] + 1)\n"
    )
    guard = (
        "import torch.nn.functional as F\ndef conv_transpose2d(x, w):\n"
        "    return getattr(F, 'conv_' + 'transpose2d')(x, w)\n"
    )
    ast_hit = (
        "import torch.nn.functional as F\ndef conv_transpose2d(x, w):\n    return F.conv_transpose2d(x, w)\n"
    )
    reference = (
        "import importlib, os, sys\nFOUND = {}\n"
        f"def conv_transpose2d(x, w):\n    sys.path.insert(0, {str(REPO)!r})\n"
        "    for name in [n for n in sys.modules if n.startswith('exercise_code')]:\n"
        "        del sys.modules[name]\n"
        "    try:\n        import __editable___dense_prediction_kit_0_1_0_finder as finder\n"
        "        finder.install()\n"
        "    except Exception as exc:\n        FOUND['finder'] = type(exc).__name__\n"
        "    try:\n        module = importlib.import_module('exercise_code.layers.transpose_conv')\n"
        "        FOUND['file'] = module.__file__\n        return module.conv_transpose2d(x, w)\n"
        "    except Exception as exc:\n        FOUND['import'] = type(exc).__name__\n"
        "    raise NotImplementedError('conv_transpose2d: not implemented yet')\n"
    )
    reference_probe = (
        f"import os\ndef run():\n    return {{'kit': os.path.exists({str(REPO / 'exercise_code')!r}),\n"
        f"            'hidden': os.path.exists({str(REPO / 'autograder' / 'hidden')!r})}}\n"
    )
    malicious_pt = io.BytesIO()
    torch.save([_Marker(str(marker))], malicious_pt)

    write_tree(subs / "control", _sub(tmp, extra={"exercise_code/secret_note.txt": SECRETS["other"]}))
    write_tree(subs / "resources", _sub(tmp, target=loop, probe=alloc))
    write_tree(subs / "forkbomb", _sub(tmp, target=forkbomb, probe=evil_save))
    write_tree(subs / "reader", _sub(tmp, probe=reader))
    (subs / "reader" / "exercise_code" / "labels_link.txt").symlink_to(paths["labels"])
    write_tree(subs / "escape", _sub(tmp, probe=escape))
    write_tree(subs / "noisy", _sub(tmp, target=printer, probe=killer))
    write_tree(subs / "patcher", _sub(tmp, target=patcher))
    write_tree(subs / "guard", _sub(tmp, target=guard))
    write_tree(subs / "ast", _sub(tmp, target=ast_hit))
    files = _sub(
        tmp, target=reference, probe=reference_probe, extra={"models/tiny.pt": malicious_pt.getvalue()}
    )
    write_tree(subs / "reference", files)
    zip_tree(write_tree(tmp / "_slip", _sub(tmp)), subs / "zipslip.zip")
    with zipfile.ZipFile(subs / "zipslip.zip", "a") as archive:
        archive.writestr("../../../slipped.txt", "pwned")
    zip_tree(write_tree(tmp / "_link", _sub(tmp)), subs / "symlink.zip")
    with zipfile.ZipFile(subs / "symlink.zip", "a") as archive:
        info = zipfile.ZipInfo("exercise_code/labels.txt")
        info.create_system, info.external_attr = 3, (0o120777 << 16)
        archive.writestr(info, paths["labels"])
    names = ["control", "resources", "forkbomb", "reader", "escape", "noisy", "patcher", "guard", "ast"]
    submissions = [subs / n for n in names] + [subs / "reference", subs / "zipslip.zip", subs / "symlink.zip"]
    settings = GradeSettings(
        call_s=5, submission_s=90, keep_work=True, isolation=IsolationChoice.BUBBLEWRAP, message_chars=4000
    )
    summary = grade_batch(
        submissions, out=out, workers=2, seed=0, parts=(Part.SUITES,), suites=suite, settings=settings
    )
    try:
        listener.accept()
        accepted = True
    except BlockingIOError:
        accepted = False
    listener.close()
    return {"summary": summary, "out": out, "tmp": tmp, "marker": marker, "accepted": accepted}


def _status(adversarial, student: str) -> dict[str, str]:
    return {t.name.split("::")[1]: str(t.status) for t in adversarial["summary"].results[student].tests}


def _message(adversarial, student: str, test: str) -> str:
    return next(t.message for t in adversarial["summary"].results[student].tests if t.name.endswith(test))


def test_batch_completes_and_the_control_is_intact(adversarial):
    results = adversarial["summary"].results
    assert len(results) == 12 and adversarial["summary"].graded == 12
    assert results["control"].score == results["control"].max_score == 7.0
    assert all(r.isolation == "bubblewrap" for r in results.values())
    assert processes_mentioning(str(adversarial["out"])) == []  # nothing left running


def test_resource_abuse_gets_timeout_and_memory(adversarial):
    assert _status(adversarial, "resources") == {
        "test_target": "timeout",
        "test_probe": "memory",
        "test_model": "passed",
        "test_after": "passed",
    }
    assert _status(adversarial, "forkbomb")["test_target"] == "timeout"
    assert _status(adversarial, "forkbomb")["test_after"] == "passed"


def test_faked_replies_are_never_unpickled(adversarial):
    assert _status(adversarial, "forkbomb")["test_probe"] == "error"
    assert "the reply was refused" in _message(adversarial, "forkbomb", "test_probe")
    assert not adversarial["marker"].exists()


def test_secrets_stay_unreadable(adversarial):
    status = _status(adversarial, "reader")
    assert status["test_probe"] == "passed" and status["test_target"] == "passed"
    message = _message(adversarial, "reader", "test_probe")
    assert '"shadow": "FileNotFoundError"' in message and '"own_symlink": "FileNotFoundError"' in message
    assert '"other_source": "FileNotFoundError"' in message and '"labels": "FileNotFoundError"' in message
    manifest = json.loads((adversarial["out"] / "work" / "reader" / "manifest.json").read_text())
    assert {s["path"] for s in manifest["skipped"]} == {"exercise_code/labels_link.txt"}


def test_writes_outside_scratch_and_network_fail(adversarial):
    assert _status(adversarial, "escape")["test_probe"] == "passed"
    message = _message(adversarial, "escape", "test_probe")
    assert '"/tmp/scratch_ok.txt": "WROTE"' in message and message.count('"WROTE"') == 1
    assert '"127.0.0.1": "ConnectionRefusedError"' in message and "CONNECTED" not in message
    assert not adversarial["accepted"]
    out = adversarial["out"]
    assert not (adversarial["marker"].with_name("escape_marker")).exists()
    assert not (out / "results" / "pwned.json").exists()
    for student in ("control", "escape", "reader", "patcher"):  # extracted copies are exactly as received
        manifest = Manifest.from_dict(json.loads((out / "work" / student / "manifest.json").read_text()))
        root = out / "work" / student / "submission"
        assert all(file_sha256(root / f.path) == f.sha256 for f in manifest.files)


def test_huge_output_and_killing_the_parent(adversarial):
    status = _status(adversarial, "noisy")
    assert status == {
        "test_target": "passed",
        "test_probe": "crashed",
        "test_model": "passed",
        "test_after": "passed",
    }
    result = adversarial["summary"].results["noisy"]
    assert "bytes omitted" in result.log_excerpt and len(result.log_excerpt) < 6000


def test_monkeypatching_torch_in_the_worker_changes_nothing(adversarial):
    assert _status(adversarial, "patcher")["test_target"] == "failed"
    assert torch.allclose(torch.zeros(1), torch.zeros(1)) and not torch.allclose(
        torch.zeros(1), torch.ones(1)
    )


def test_forbidden_shortcuts(adversarial):
    assert _status(adversarial, "guard")["test_target"] == "forbidden"
    assert "uses the forbidden torch." in _message(adversarial, "guard", "test_target")
    assert _status(adversarial, "ast")["test_target"] == "forbidden"
    assert "exercise_code/layers/__init__.py:3" in _message(adversarial, "ast", "test_target")


def test_reference_solution_is_out_of_reach(adversarial):
    status = _status(adversarial, "reference")
    assert status["test_target"] == "failed"
    assert _message(adversarial, "reference", "test_target") == "not implemented yet"
    assert '"kit": false' in _message(adversarial, "reference", "test_probe")
    assert status["test_model"] == "error" and "weights_only" in _message(
        adversarial, "reference", "test_model"
    )
    assert not adversarial["marker"].exists()


def test_hostile_archives_are_rejected(adversarial):
    results = adversarial["summary"].results
    assert results["zipslip"].status == "rejected" and "climbs out" in results["zipslip"].message
    assert results["symlink"].status == "rejected" and "symbolic link" in results["symlink"].message
    tmp = adversarial["tmp"]
    assert not any(p.name == "slipped.txt" for p in tmp.parent.rglob("slipped.txt"))
