"""Length-prefixed messages between the grader and the sandboxed worker (stdlib + torch only).

A frame is a 4-byte big-endian length, then a payload: 4-byte header length, a JSON header, and a
blob of `torch.save([tensors])` that is only ever read back with `torch.load(weights_only=True)`.
Every size (`Caps`) is checked before the part it bounds is parsed; loaded tensors are checked before use.
"""

from __future__ import annotations

import array
import dataclasses
import io
import itertools
import json
import math
import numbers
import os
import re
import select
import struct
import time
import zipfile
from collections.abc import Callable
from typing import Any

import torch

FRAME = struct.Struct(">I")
"""4-byte big-endian unsigned length, in front of every frame and of every header."""
DEFAULT_MAX_BYTES = 256 * 2**20
"""Largest frame either side accepts unless told otherwise."""
MAX_DEPTH = 32
"""Deepest value `pack` sends (a JSON tree is at most 3 levels deeper per value level: dicts)."""
MAX_ITEMS = 100_000
"""Most values (tree nodes) in one packed value."""
_CHUNK = 1 << 20
_ZIP_EOCD = struct.Struct("<4s4H2LH")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
_JSON_ESCAPE = re.compile(rb"\\.", re.S)
_JSON_STRING = re.compile(rb'"[^"]*"')  # once escapes are gone: linear, unlike one regex for both
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_DEPTH_STEP = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


@dataclasses.dataclass(frozen=True)
class Caps:
    """What one decoded message may hold; each cap is checked before the part it bounds is parsed."""

    header_bytes: int = 2**20
    """Largest JSON header, and largest pickled part of the tensor blob (checked from their sizes)."""
    json_depth: int = 3 * MAX_DEPTH + 8
    """Deepest JSON nesting of the header (checked by a flat scan before `json.loads`)."""
    items: int = MAX_ITEMS
    """Most values in the header's value tree (checked by `unpack`), and entries in the tensor blob."""
    elements: int = 64 * 2**20
    """Most tensor elements in one message, all tensors together (counted from shapes, not storages)."""

    def __post_init__(self) -> None:
        for name in ("header_bytes", "json_depth", "items", "elements"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


DEFAULT_CAPS = Caps()


class ProtocolError(Exception):
    """A frame was malformed, too large, or held a value that may not cross the boundary."""


class ChannelClosed(ProtocolError):
    """The other end closed the pipe (usually: the worker died)."""


# --- values <-> JSON + tensor list -------------------------------------------------------------


def pack(
    value: Any, models: Callable[[Any], dict[str, Any] | None] | None = None
) -> tuple[Any, list[torch.Tensor]]:
    """Split `value` into a JSON-able tree and its tensors (placeholders `{"__t__": i}`).

    Allowed: Tensor, bool, int, float, str, None, tuple/list/dict (str or int keys) of those, and
    dataclass instances (sent as the dict of their fields). `models(obj)` may turn other objects
    into a model reference `{"__model__": info}` (it returns None for objects it does not handle).
    """
    tensors: list[torch.Tensor] = []
    count = [0]

    def walk(v: Any, depth: int) -> Any:
        count[0] += 1
        if depth > MAX_DEPTH or count[0] > MAX_ITEMS:
            raise ProtocolError(f"value nested deeper than {MAX_DEPTH} or with more than {MAX_ITEMS} items")
        if isinstance(v, torch.Tensor):
            tensors.append(_plain_tensor(v))
            return {"__t__": len(tensors) - 1}
        if v is None or isinstance(v, bool | str):
            return v
        if isinstance(v, numbers.Integral):
            return int(v)
        if isinstance(v, numbers.Real):
            return float(v)
        if isinstance(v, tuple):
            return {"__tuple__": [walk(x, depth + 1) for x in v]}
        if isinstance(v, list):
            return [walk(x, depth + 1) for x in v]
        if isinstance(v, dict):
            items = []
            for k, x in v.items():
                if not isinstance(k, str | int) or isinstance(k, bool):
                    raise ProtocolError(f"dict keys must be str or int, got {type(k).__name__}")
                items.append([k, walk(x, depth + 1)])
            return {"__dict__": items}
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return walk({f.name: getattr(v, f.name) for f in dataclasses.fields(v)}, depth)
        info = models(v) if models is not None else None
        if isinstance(info, dict):
            return {"__model__": {k: x for k, x in info.items() if isinstance(x, str | int | float)}}
        raise ProtocolError(
            f"a value of type {type(v).__module__}.{type(v).__qualname__} cannot be sent; use tensors, "
            "numbers, strings, None, or tuples/lists/dicts of those"
        )

    return walk(value, 0), tensors


def unpack(
    tree: Any,
    tensors: list[torch.Tensor],
    models: Callable[[dict[str, Any]], Any] | None = None,
    *,
    max_items: int = MAX_ITEMS,
) -> Any:
    """Inverse of `pack`; rejects any JSON shape `pack` cannot produce, and trees of more than
    `max_items` values. `models(info)` turns a model reference back into an object (without it, model
    references are refused)."""
    count = [0]

    def walk(v: Any, depth: int) -> Any:
        count[0] += 1
        if count[0] > max_items:
            raise ProtocolError(f"value with more than {max_items} items")
        if depth > MAX_DEPTH:
            raise ProtocolError("value nested too deeply")
        if v is None or isinstance(v, bool | int | float | str):
            return v
        if isinstance(v, list):
            return [walk(x, depth + 1) for x in v]
        if isinstance(v, dict) and len(v) == 1:
            ((key, inner),) = v.items()
            if key == "__t__" and isinstance(inner, int) and not isinstance(inner, bool):
                if not 0 <= inner < len(tensors):
                    raise ProtocolError(f"tensor index {inner} out of range")
                return tensors[inner]
            if key == "__tuple__" and isinstance(inner, list):
                return tuple(walk(x, depth + 1) for x in inner)
            if key == "__dict__" and isinstance(inner, list):
                out = {}
                for pair in inner:
                    if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str | int)):
                        raise ProtocolError("malformed dict entry")
                    out[pair[0]] = walk(pair[1], depth + 1)
                return out
            if key == "__model__" and isinstance(inner, dict) and models is not None:
                if not all(
                    isinstance(x, str | int | float) and not isinstance(x, bool) for x in inner.values()
                ):
                    raise ProtocolError("malformed model reference")
                return models(inner)
        raise ProtocolError(f"malformed value of type {type(v).__name__}")

    return walk(tree, 0)


def _plain_tensor(t: torch.Tensor) -> torch.Tensor:
    """A detached, dense, CPU, base-class tensor that owns exactly its own storage."""
    t = t.detach()
    if type(t) is not torch.Tensor:
        t = t.as_subclass(torch.Tensor)
    if t.layout != torch.strided:
        t = t.to_dense()
    t = t.cpu().resolve_conj().resolve_neg()
    if t.untyped_storage().nbytes() != t.numel() * t.element_size() or not t.is_contiguous():
        t = t.contiguous().clone()
    return t


# --- payload bytes -----------------------------------------------------------------------------


def encode(header: dict[str, Any], tensors: list[torch.Tensor] | tuple[()] = ()) -> bytes:
    """Payload bytes of one message (without the outer frame length)."""
    head = json.dumps(header, separators=(",", ":")).encode()
    blob = b""
    if tensors:
        buffer = io.BytesIO()
        torch.save(list(tensors), buffer)
        blob = buffer.getvalue()
    return FRAME.pack(len(head)) + head + blob


def decode(payload: bytes, caps: Caps = DEFAULT_CAPS) -> tuple[dict[str, Any], list[torch.Tensor]]:
    """Header and tensors of a payload within `caps`; tensors come from `torch.load(weights_only=True)`
    only, and are refused unless each is dense and exactly backed by its storage (`check_tensors`)."""
    if len(payload) < FRAME.size:
        raise ProtocolError("payload shorter than its header length")
    (n,) = FRAME.unpack_from(payload)
    if n > len(payload) - FRAME.size:
        raise ProtocolError(f"header length {n} exceeds the payload")
    if n > caps.header_bytes:
        raise ProtocolError(f"the JSON header is {n} bytes; the cap is {caps.header_bytes} bytes")
    raw = payload[FRAME.size : FRAME.size + n]
    _check_json_depth(raw, caps.json_depth)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(f"header is not JSON: {str(exc)[:200]}") from None
    if not isinstance(header, dict):
        raise ProtocolError("header is not a JSON object")
    blob = payload[FRAME.size + n :]
    tensors: list[torch.Tensor] = []
    if blob:
        _check_archive(blob, caps)
        try:
            loaded = torch.load(io.BytesIO(blob), weights_only=True, map_location="cpu")
        except Exception as exc:
            lines = [ln.strip() for ln in str(exc).splitlines() if "WeightsUnpickler error" in ln]
            detail = lines[0] if lines else str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise ProtocolError(f"tensor blob rejected by the weights-only loader ({detail})") from None
        if not isinstance(loaded, list) or not all(type(t) is torch.Tensor for t in loaded):
            raise ProtocolError("tensor blob is not a list of plain tensors")
        check_tensors(loaded, caps.elements)
        tensors = loaded
    return header, tensors


def _check_json_depth(raw: bytes, limit: int) -> None:
    """Refuse JSON nested deeper than `limit`, by a flat scan (strings dropped, brackets counted)."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return
    brackets = _NOT_BRACKET.sub(b"", _JSON_STRING.sub(b"", _JSON_ESCAPE.sub(b"", raw))).translate(_DEPTH_STEP)
    if brackets and max(itertools.accumulate(array.array("b", brackets))) > limit:
        raise ProtocolError(f"the JSON header is nested deeper than {limit} levels")


def _check_archive(blob: bytes, caps: Caps) -> None:
    """Refuse a tensor blob whose unpickling could cost far more than its size: anything but an
    uncompressed zip as `torch.save` writes it, too many entries, or a pickle larger than the header cap."""
    entries = _zip_entries(blob)
    if entries > caps.items + 16:
        raise ProtocolError(f"tensor blob has {entries} archive entries; the cap is {caps.items + 16}")
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise ProtocolError(f"tensor blob is not a valid archive ({exc})") from None
    for info in infos:
        if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
            raise ProtocolError(f"tensor blob entry {info.filename[:100]!r} is compressed")
        if info.filename.endswith(".pkl") and info.file_size > caps.header_bytes:
            size, cap = info.file_size, caps.header_bytes
            raise ProtocolError(f"the pickled part of the tensor blob is {size} bytes; the cap is {cap}")


def _zip_entries(blob: bytes) -> int:
    """Entry count from the end-of-central-directory record (zip64 too), read without parsing entries."""
    not_zip = ProtocolError("tensor blob is not a torch.save zip archive (refused before unpickling)")
    if not blob.startswith(b"PK\x03\x04") or len(blob) < _ZIP_EOCD.size:
        raise not_zip
    signature, _, _, _, entries, _, _, comment = _ZIP_EOCD.unpack_from(blob, len(blob) - _ZIP_EOCD.size)
    if signature != b"PK\x05\x06" or comment:
        raise not_zip
    if entries != 0xFFFF:
        return entries
    at = len(blob) - _ZIP_EOCD.size - _ZIP64_LOCATOR.size
    if at < 0:
        raise not_zip
    signature, _, offset, _ = _ZIP64_LOCATOR.unpack_from(blob, at)
    if signature != b"PK\x06\x07" or offset + _ZIP64_EOCD.size > at:
        raise not_zip
    record = _ZIP64_EOCD.unpack_from(blob, offset)
    if record[0] != b"PK\x06\x06":
        raise not_zip
    return record[7]


def check_tensors(tensors: list[torch.Tensor], max_elements: int) -> None:
    """Refuse tensors the sender could not have produced with `pack`: not dense CPU tensors, a zero or
    negative stride, a shape/stride/offset that needs more storage than there is, overlapping or
    non-contiguous layouts, or more than `max_elements` elements in all (an expanded tensor claims
    elements its storage does not hold; using it, e.g. `argmax`, would allocate them)."""
    total = 0
    for i, t in enumerate(tensors):
        shape, strides = tuple(t.shape), t.stride()
        layout = f"shape {shape}, strides {strides}"
        if t.layout != torch.strided or t.is_quantized or t.is_nested or t.device.type != "cpu":
            raise ProtocolError(f"tensor {i} is not a dense CPU tensor ({t.layout}, {t.device})")
        numel = math.prod(shape)
        if numel:
            for dim, (size, stride) in enumerate(zip(shape, strides, strict=True)):
                if size > 1 and stride <= 0:
                    raise ProtocolError(f"tensor {i} has stride {stride} in dim {dim} ({layout})")
            extent = t.storage_offset() + sum((n - 1) * step for n, step in zip(shape, strides, strict=True))
            needed, held = (extent + 1) * t.element_size(), t.untyped_storage().nbytes()
            if t.storage_offset() < 0 or needed > held:
                raise ProtocolError(
                    f"tensor {i} needs {needed} bytes of storage but its storage holds {held} ({layout})"
                )
            if not t.is_contiguous():
                raise ProtocolError(f"tensor {i} overlaps itself or is not contiguous ({layout})")
        total += numel
        if total > max_elements:
            raise ProtocolError(f"the tensors hold more than {max_elements} elements in all")


# --- pipes -------------------------------------------------------------------------------------


def _remaining(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline passed")
    return left


def _wait(fd: int, event: int, deadline: float | None) -> None:
    if deadline is None:
        return
    poller = select.poll()
    poller.register(fd, event | select.POLLHUP | select.POLLERR)
    while True:
        left = _remaining(deadline)
        if poller.poll(max(1, int(left * 1000))):  # type: ignore[operator]
            return


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks, got = [], 0
    while got < n:
        _wait(fd, select.POLLIN, deadline)
        chunk = os.read(fd, min(_CHUNK, n - got))
        if not chunk:
            raise ChannelClosed("the other end closed the channel")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def write_frame(fd: int, payload: bytes, deadline: float | None = None) -> None:
    """Write one frame (length + payload); with a deadline the fd must be non-blocking."""
    data = memoryview(FRAME.pack(len(payload)) + payload)
    while data:
        _wait(fd, select.POLLOUT, deadline)
        try:
            written = os.write(fd, data[:_CHUNK])
        except BlockingIOError:
            continue
        except BrokenPipeError:
            raise ChannelClosed("the other end closed the channel") from None
        data = data[written:]


def read_frame(fd: int, max_bytes: int = DEFAULT_MAX_BYTES, deadline: float | None = None) -> bytes:
    """Read one frame's payload; refuses frames larger than `max_bytes` before reading them."""
    (n,) = FRAME.unpack(_read_exact(fd, FRAME.size, deadline))
    if n > max_bytes:
        raise ProtocolError(f"message of {n} bytes exceeds the cap of {max_bytes} bytes")
    return _read_exact(fd, n, deadline)


def send(
    fd: int,
    header: dict[str, Any],
    tensors: list[torch.Tensor] | tuple[()] = (),
    deadline: float | None = None,
) -> None:
    """Encode and write one message."""
    write_frame(fd, encode(header, tensors), deadline)


def receive(
    fd: int, max_bytes: int = DEFAULT_MAX_BYTES, deadline: float | None = None, caps: Caps = DEFAULT_CAPS
) -> tuple[dict[str, Any], list[torch.Tensor]]:
    """Read and decode one message."""
    return decode(read_frame(fd, max_bytes, deadline), caps)
