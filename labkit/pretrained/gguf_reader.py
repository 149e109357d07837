"""Reading a GGUF file: llama.cpp's one-file format for a model's metadata and (quantised) weights.

The layout (little-endian):

    "GGUF" · version u32 · n_tensors u64 · n_metadata u64
    n_metadata × (key: string, value type: u32, value)          e.g. "llama.block_count" = 30
    n_tensors  × (name: string, n_dims: u32, dims: n_dims × u64, type: u32, offset: u64)
    padding to ``general.alignment`` (32), then the tensor data, each tensor at its offset

A string is a u64 length and UTF-8 bytes; an array is an element type (u32), a count (u64) and the
elements. ``dims`` lists the fastest-varying axis first, so a ``(rows, cols)`` matrix is stored with
``dims = [cols, rows]``. A quantised tensor is stored in blocks: Q8_0 keeps 32 weights as one
float16 scale ``d`` and 32 int8 ``q`` (``w = d·q``); Q4_1 keeps 32 weights as a scale ``d``, a
minimum ``m`` and 32 four-bit ``q`` (``w = d·q + m``). ``gguf.quants.dequantize`` (the ``gguf``
package, maintained with llama.cpp) turns the blocks back into float32.

This reader parses the metadata itself (a few lines of ``struct``, fast even for a 49,152-entry
vocabulary) and hands the tensor bytes, memory-mapped, to ``gguf.quants.dequantize``.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["GGUFFile", "GGUFTensorInfo", "read_gguf"]

# metadata value types (GGUF spec) → struct format; 8 is a string and 9 an array
_SCALAR = {
    0: "B",
    1: "b",
    2: "H",
    3: "h",
    4: "I",
    5: "i",
    6: "f",
    7: "?",
    10: "Q",
    11: "q",
    12: "d",
}
_NUMPY = {
    0: "u1",
    1: "i1",
    2: "<u2",
    3: "<i2",
    4: "<u4",
    5: "<i4",
    6: "<f4",
    7: "?",
    10: "<u8",
    11: "<i8",
    12: "<f8",
}
_STRING, _ARRAY = 8, 9


@dataclass(frozen=True)
class GGUFTensorInfo:
    """One tensor's entry: its name, logical shape (rows first, as numpy and torch write it), the
    ggml type (``gguf.GGMLQuantizationType``) and where its bytes start in the file."""

    name: str
    shape: tuple[int, ...]
    ggml_type: int
    offset: int


class _Cursor:
    """Reads values one after the other from a buffer."""

    def __init__(self, buf: Any, pos: int = 0) -> None:
        self.buf, self.pos = buf, pos

    def scalar(self, fmt: str) -> Any:
        (value,) = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> str:
        n = self.scalar("Q")
        text = self.buf[self.pos : self.pos + n].decode("utf-8", errors="replace")
        self.pos += n
        return text

    def value(self, kind: int) -> Any:
        if kind in _SCALAR:
            return self.scalar(_SCALAR[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item, n = self.scalar("I"), self.scalar("Q")
            if item in _NUMPY:  # numbers: one read
                dtype = np.dtype(_NUMPY[item])
                values = np.frombuffer(self.buf, dtype=dtype, count=n, offset=self.pos).copy()
                self.pos += n * dtype.itemsize
                return values.tolist()
            return [self.value(item) for _ in range(n)]
        raise ValueError(f"GGUF metadata: unknown value type {kind} at byte {self.pos}")


class GGUFFile:
    """A GGUF file opened for reading: ``metadata`` (dict), ``tensors`` (name → info) and
    :meth:`load` to get one tensor as a float32 numpy array.

    The file stays memory-mapped while this object lives; only the tensors you load are read.
    """

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"path must be an existing GGUF file; {str(path)!r} does not exist"
            )
        self.path = path
        with path.open("rb") as f:
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        cur = _Cursor(self._map)
        if self._map[:4] != b"GGUF":
            raise ValueError(
                f"path must be a GGUF file (starting with b'GGUF'); {path.name} starts with "
                f"{bytes(self._map[:4])!r}"
            )
        cur.pos = 4
        self.version = cur.scalar("I")
        if self.version not in (2, 3):
            raise ValueError(f"GGUF version must be 2 or 3; {path.name} has version {self.version}")
        n_tensors, n_kv = cur.scalar("Q"), cur.scalar("Q")
        self.metadata: dict[str, Any] = {}
        for _ in range(n_kv):
            key = cur.string()
            self.metadata[key] = cur.value(cur.scalar("I"))
        infos = []
        for _ in range(n_tensors):
            name = cur.string()
            dims = [cur.scalar("Q") for _ in range(cur.scalar("I"))]
            infos.append((name, tuple(reversed(dims)), cur.scalar("I"), cur.scalar("Q")))
        align = int(self.metadata.get("general.alignment", 32))
        start = -(-cur.pos // align) * align
        self.tensors: dict[str, GGUFTensorInfo] = {
            name: GGUFTensorInfo(name, shape, kind, start + offset)
            for name, shape, kind, offset in infos
        }

    def raw(self, name: str) -> tuple[np.ndarray, int]:
        """The stored bytes of tensor ``name`` as gguf expects them — shape ``(..., bytes per row)``
        — and its ggml type."""
        from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

        if name not in self.tensors:
            raise KeyError(
                f"no tensor {name!r} in {self.path.name}; it has e.g. {list(self.tensors)[:5]}"
            )
        info = self.tensors[name]
        block, block_bytes = GGML_QUANT_SIZES[GGMLQuantizationType(info.ggml_type)]
        *outer, inner = info.shape
        row_bytes = inner // block * block_bytes
        count = int(np.prod(outer, dtype=np.int64)) * row_bytes
        data = np.frombuffer(self._map, dtype=np.uint8, count=count, offset=info.offset)
        return data.reshape(*outer, row_bytes), info.ggml_type

    def load(self, name: str) -> np.ndarray:
        """Tensor ``name`` dequantised to float32, in its logical shape (rows first)."""
        from gguf.quants import dequantize

        data, kind = self.raw(name)
        out = np.require(dequantize(data, kind), np.float32, ["C", "W"])  # a copy if read-only
        self._release(self.tensors[name].offset, data.nbytes)
        return out.reshape(self.tensors[name].shape)

    def _release(self, offset: int, size: int) -> None:
        """Let the OS drop the file pages of a tensor already read (they stay readable), so that
        loading a model does not keep the whole file in memory beside the float32 weights."""
        if hasattr(self._map, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
            start = offset // mmap.PAGESIZE * mmap.PAGESIZE
            self._map.madvise(mmap.MADV_DONTNEED, start, offset + size - start)


def read_gguf(path: str | Path) -> GGUFFile:
    """Open a GGUF file: ``read_gguf(p).metadata["general.architecture"]``, ``.load("token_embd.weight")``."""
    return GGUFFile(path)
