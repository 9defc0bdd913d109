"""Submitted model files are read on the trusted side before any student code runs: the spec's size and
depth, the weights' file size, and every tensor of the state_dict (buffers and broadcast views count)."""

from __future__ import annotations

import json
import pickle

import pytest
import torch

from autograder.errors import MissingPart, StudentCodeError
from autograder.grading.proxy import ModelRejected, Submission, read_model_file, read_spec
from exercise_code.config import CONFIG, ModelLimits, state_dict_values
from exercise_code.training import check_limits

LIMITS = ModelLimits(max_parameters=1000, max_file_mb=1.0)


class _NoWorker:
    """A session that must never be asked: these checks happen before the sandbox is used."""

    def request(self, *args, **kwargs):
        raise AssertionError("the worker was asked before the trusted checks")


def _weights(tmp_path, state, name="m"):
    path = tmp_path / f"{name}.pt"
    torch.save(state, path)
    return path


def test_buffers_and_broadcast_views_count(tmp_path):
    module = torch.nn.Linear(10, 10)  # 110 parameters
    module.register_buffer("table", torch.zeros(2000))
    state = module.state_dict()
    assert state_dict_values(state) == 2110
    match = r"models/m\.pt holds 2,110 values in 3 tensors .* limit is 1,000"
    with pytest.raises(ModelRejected, match=match):
        read_model_file(_weights(tmp_path, state), "m", LIMITS)
    wide = {"w": torch.zeros(1).expand(5000)}  # a few bytes on disk, 5,000 values
    assert _weights(tmp_path, wide).stat().st_size < 2000
    with pytest.raises(ModelRejected, match="5,000 values"):
        read_model_file(_weights(tmp_path, wide), "m", LIMITS)
    assert check_limits(module, LIMITS)  # the notebooks' check counts the same values


def test_a_model_within_the_limits_is_described(tmp_path):
    found = read_model_file(_weights(tmp_path, torch.nn.Linear(3, 2).state_dict()), "m", LIMITS)
    assert (found.values, found.tensors) == (8, 2)
    assert found.shapes == {"weight": (2, 3), "bias": (2,)}


def test_the_file_size_is_checked_first(tmp_path):
    path = tmp_path / "m.pt"
    path.write_bytes(b"\0" * (2 * 2**20))  # not even a valid file: the size alone rejects it
    with pytest.raises(ModelRejected, match=r"models/m\.pt is 2\.0 MiB; the limit is 1 MiB"):
        read_model_file(path, "m", LIMITS)


class _Payload:
    def __reduce__(self):
        return (print, ("unpickled!",))


def test_pickles_and_non_dicts_are_errors_naming_the_file(tmp_path):
    path = tmp_path / "m.pt"
    path.write_bytes(pickle.dumps({"w": _Payload()}))
    match = r"models/m\.pt does not load with torch\.load\(weights_only=True\)"
    with pytest.raises(StudentCodeError, match=match):
        read_model_file(path, "m", LIMITS)
    with pytest.raises(StudentCodeError, match="must hold a state_dict"):
        read_model_file(_weights(tmp_path, [torch.zeros(2)]), "m", LIMITS)


def test_deep_or_malformed_specs_name_their_file(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text('{"name": "X", "kwargs": ' + "[" * 50_000 + "]" * 50_000 + "}")
    with pytest.raises(StudentCodeError, match=r"models/deep\.json is nested deeper than 16 levels"):
        read_spec(deep, "deep")
    nested = tmp_path / "nested.json"
    nested.write_text(json.dumps({"name": "X", "kwargs": {"a": [[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}}))
    with pytest.raises(StudentCodeError, match=r"models/nested\.json is nested deeper"):
        read_spec(nested, "nested")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(StudentCodeError, match=r"models/bad\.json is not valid JSON"):
        read_spec(tmp_path / "bad.json", "bad")
    ok = tmp_path / "ok.json"
    spec = {"name": "Classifier", "kwargs": {"encoder": {"name": "Encoder", "kwargs": {}}}}
    ok.write_text(json.dumps(spec))
    assert read_spec(ok, "ok")["name"] == "Classifier"


def test_load_model_checks_the_files_before_the_sandbox(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    (models / "autoencoder.json").write_text(json.dumps({"name": "Autoencoder", "kwargs": {}}))
    big = CONFIG.autoencoder_limits.max_parameters + 1
    torch.save({"memory": torch.zeros(1, dtype=torch.float16).expand(big)}, models / "autoencoder.pt")
    submission = Submission(tmp_path, _NoWorker())
    for _ in range(2):  # the verdict is cached and raised again
        with pytest.raises(ModelRejected, match=f"{big:,} values"):
            submission.load_model("autoencoder")
    with pytest.raises(MissingPart, match=r"models/segmentation\.json is missing"):
        submission.load_model("segmentation")
