"""Config of the powoc LM family, stored in each model file's safetensors metadata (no torch needed).

The model itself is in :mod:`agihub.powoc.lm`; this module lets the scorer and the CLI read and
check a file's config without importing torch.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields

from agihub.delta.errors import ModelFileError
from agihub.delta.tensors import SafetensorsFile
from agihub.powoc.errors import ModelLoadError

METADATA_KEY = "agihub.powoc.lm"
VOCAB = 256  # bytes


@dataclass(frozen=True)
class LMConfig:
    """Shape of a model of the family (byte vocabulary, learned positions, pre-norm blocks)."""

    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    context: int = 64

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if type(value) is not int or value < 1:
                raise ModelLoadError(f"LM config {f.name} must be an integer >= 1, got {value!r}")
        if self.d_model % self.n_heads:
            raise ModelLoadError(f"d_model {self.d_model} is not a multiple of n_heads {self.n_heads}")

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, compact) as stored in the safetensors metadata."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, source: str = "config") -> LMConfig:
        """Parse and check a stored config."""
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise ModelLoadError(f"{source}: LM config is not JSON ({exc})") from None
        names = {f.name for f in fields(cls)}
        if not isinstance(raw, dict) or set(raw) != names:
            raise ModelLoadError(f"{source}: LM config must have exactly the keys {sorted(names)}")
        return cls(**raw)

    @property
    def parameters(self) -> int:
        """Number of parameters of a model of this shape."""
        d = self.d_model
        block = 2 * 2 * d + (3 * d * d + 3 * d) + (d * d + d) + (4 * d * d + 4 * d) + (4 * d * d + d)
        return VOCAB * d + self.context * d + self.n_layers * block + 2 * d + VOCAB * d


def read_config(path: str | os.PathLike[str]) -> LMConfig:
    """The config stored in a model file's metadata (no torch needed)."""
    try:
        with SafetensorsFile.open(path) as st:
            header = json.loads(st.header_bytes)
    except (ModelFileError, OSError) as exc:
        raise ModelLoadError(f"{path}: not a readable safetensors file ({exc})") from None
    text = (header.get("__metadata__") or {}).get(METADATA_KEY)
    if text is None:
        raise ModelLoadError(f"{path}: no {METADATA_KEY!r} config in the safetensors metadata")
    return LMConfig.from_json(text, str(path))
