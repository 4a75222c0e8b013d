"""Delta codec: store a fine-tuned child model as Δ = child − parent against its parent version.

Public API::

    encode_delta(parent_path, child_path, out_path, mode="lossless" | "lossy", budget=...) -> DeltaReport
    apply_delta(parent_path, delta_path, out_path) -> Path
    encode_delta_arrays(parent, child, mode, budget) -> (bytes, DeltaReport)   # in memory
    apply_delta_arrays(parent, delta_bytes) -> dict[str, Tensor]               # in memory
    read_header(delta_path) -> DeltaHeader

Lossless deltas rebuild the child byte for byte (checked against its sha256); lossy deltas pick
per tensor the smallest of low-rank, k-bit quantised, sparse and 1-bit sign encodings whose
measured error meets a :class:`Budget`. The file format is described in ``README.md`` here.
This package needs numpy and zstandard only (no torch).
"""

from agihub.delta.chooser import Budget, DeltaReport, TensorChoice, encode_delta, encode_delta_arrays
from agihub.delta.errors import (
    DeltaError,
    DeltaFormatError,
    DeltaParameterError,
    ModelFileError,
    ReconstructionError,
    TruncatedDeltaError,
    UnknownEncodingError,
    WrongParentError,
)
from agihub.delta.fidelity import Fidelity
from agihub.delta.package import DeltaHeader, TensorEntry, apply_delta, apply_delta_arrays, read_header
from agihub.delta.tensors import Tensor

__all__ = [
    "Budget",
    "DeltaError",
    "DeltaFormatError",
    "DeltaHeader",
    "DeltaParameterError",
    "DeltaReport",
    "Fidelity",
    "ModelFileError",
    "ReconstructionError",
    "Tensor",
    "TensorChoice",
    "TensorEntry",
    "TruncatedDeltaError",
    "UnknownEncodingError",
    "WrongParentError",
    "apply_delta",
    "apply_delta_arrays",
    "encode_delta",
    "encode_delta_arrays",
    "read_header",
]
