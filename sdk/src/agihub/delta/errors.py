"""Errors of the delta codec (``agihub.delta``).

Every error names the tensor or byte range at fault. The tree hangs under
:class:`agihub.errors.StorageError`::

    StorageError
    └── DeltaError                    any delta-codec failure
        ├── ModelFileError            an input safetensors file is malformed or unsupported
        ├── DeltaFormatError          a delta file is malformed (bad magic, schema, ranges, payload)
        │   ├── TruncatedDeltaError   a delta file ends before its declared end
        │   └── UnknownEncodingError  a tensor names an encoding (or version) this SDK does not know
        ├── WrongParentError          the parent given to ``apply_delta`` is not the one the delta names
        ├── ReconstructionError       the rebuilt child does not hash to the declared child sha256
        └── DeltaParameterError       a caller asked for an impossible encoding or budget

A failing ``apply_delta`` never leaves a partial output file: it writes to a temp file and only
renames it into place after every check passed.
"""

from __future__ import annotations

from agihub.errors import StorageError


class DeltaError(StorageError):
    """Base class of every delta-codec error."""


class ModelFileError(DeltaError):
    """An input safetensors file is malformed, truncated or uses an unsupported dtype."""


class DeltaFormatError(DeltaError):
    """A delta file does not follow the format (see ``agihub/delta/README.md``)."""


class TruncatedDeltaError(DeltaFormatError):
    """A delta file ends before the end its header declares."""


class UnknownEncodingError(DeltaFormatError):
    """A tensor entry names an encoding id, or the file a format version, this SDK cannot decode."""


class WrongParentError(DeltaError):
    """The parent file's sha256 differs from the one the delta was made against."""


class ReconstructionError(DeltaError):
    """The reconstructed child's sha256 differs from the one declared in a lossless delta."""


class DeltaParameterError(DeltaError):
    """An encoding parameter or budget given by the caller is out of range."""
