"""Errors raised by model packages (agihub.storage).

Every class derives from :class:`agihub.errors.StorageError`; each message names the problem and
the fix to try. When one of these is raised, nothing partial has been written at the destination::

    StorageError
    ├── SafetensorsError            the input is not a well-formed safetensors file
    │   ├── HeaderLengthError       8-byte length prefix missing, zero, oversized or past the end
    │   ├── HeaderJsonError         header is not a JSON object (bad UTF-8, syntax, duplicate keys)
    │   ├── TensorEntryError        a tensor entry lacks or adds keys, or has bad types
    │   ├── DtypeError              unknown dtype
    │   ├── ShapeError              shape × dtype size ≠ byte range length
    │   ├── OffsetError             byte ranges overlap, leave a gap or run past the data
    │   └── TrailingBytesError      bytes after the last tensor
    ├── PayloadError                payload empty, unreadable or oversized
    ├── ParameterError              k, n, chunk size or block size out of range
    ├── ManifestError               manifest malformed, non-canonical or inconsistent
    │   └── SignatureError          publisher signature missing or wrong (tampered manifest)
    ├── ShardError                  a shard failed a check
    │   ├── ShardMismatchError      shard belongs to another model, version or index
    │   └── ShardCorruptError       shard bytes differ from the hash in the manifest
    ├── InsufficientShardsError     fewer than k good shards
    ├── IntegrityError              rebuilt bytes differ from the chunk hashes / model root
    ├── DecryptionError             wrong key, or ciphertext altered (AES-GCM tag mismatch)
    └── CacheError                  cache directory unusable or a fetched blob failed its hash
"""

from __future__ import annotations

from agihub.errors import StorageError


class SafetensorsError(StorageError):
    """The input is not a well-formed safetensors file."""


class HeaderLengthError(SafetensorsError):
    """The 8-byte little-endian header length is missing, zero, too large or past the end of file."""


class HeaderJsonError(SafetensorsError):
    """The header is not a UTF-8 JSON object without duplicate keys."""


class TensorEntryError(SafetensorsError):
    """A tensor entry does not have exactly ``dtype``, ``shape`` and ``data_offsets`` of the right types."""


class DtypeError(SafetensorsError):
    """A tensor has a dtype this format does not know."""


class ShapeError(SafetensorsError):
    """A tensor's shape times its dtype size differs from its byte range."""


class OffsetError(SafetensorsError):
    """Tensor byte ranges overlap, leave a gap, or run past the data section."""


class TrailingBytesError(SafetensorsError):
    """The data section has bytes after the last tensor."""


class PayloadError(StorageError):
    """The payload is empty, unreadable, or exceeds a limit."""


class ParameterError(StorageError):
    """An erasure or chunking parameter is out of range."""


class ManifestError(StorageError):
    """A manifest is malformed, not canonical, or inconsistent with itself."""


class SignatureError(ManifestError):
    """The manifest signature is missing or does not verify under the publisher key."""


class ShardError(StorageError):
    """A shard failed a check; ``index`` is the shard index when known."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


class ShardMismatchError(ShardError):
    """The shard header names another model, version, erasure layout or index."""


class ShardCorruptError(ShardError):
    """The shard's bytes do not hash to the value listed in the manifest."""


class InsufficientShardsError(StorageError):
    """Fewer than k shards passed their checks, so the payload cannot be rebuilt."""


class IntegrityError(StorageError):
    """Rebuilt bytes do not match the manifest's chunk hashes or model root."""


class DecryptionError(StorageError):
    """Decryption failed: the key is wrong or the ciphertext was altered."""


class CacheError(StorageError):
    """The local cache is unusable, or a fetched blob did not match its hash."""
