"""Model packages: signed manifests, tensor-aligned chunks, k-of-n shards, encryption, cache.

Formats, defaults and the cache layout are described in ``README.md`` beside this file.
"""

from agihub.storage.cache import Cache
from agihub.storage.crypto import Delivery, derive_version_key, open_delivery, seal_delivery
from agihub.storage.manifest import Card, SignedManifest, load_manifest, parse_manifest
from agihub.storage.package import PackOptions, pack_delta, pack_model
from agihub.storage.unpack import (
    VerifyReport,
    plan_tensor_fetch,
    private_version_key,
    read_tensors,
    unpack,
    verify_package,
)

__all__ = [
    "Cache",
    "Card",
    "Delivery",
    "PackOptions",
    "SignedManifest",
    "VerifyReport",
    "derive_version_key",
    "load_manifest",
    "open_delivery",
    "pack_delta",
    "pack_model",
    "parse_manifest",
    "plan_tensor_fetch",
    "private_version_key",
    "read_tensors",
    "seal_delivery",
    "unpack",
    "verify_package",
]
