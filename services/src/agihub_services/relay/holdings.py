"""Which models this relay holds: the one rule its offer (kind 31338) and its order agent share.

A publisher uploads a model's signed ``manifest.json`` beside its shards. A model is *held* here when
the blob store holds a blob that parses as a signed agihub manifest
(:func:`agihub.storage.parse_manifest`: canonical form, BIP-340 signature, consistency) **and** at
least one of the shards that manifest lists. The manifest is what a kind-31337 model-version event
announces (its ``d`` tag is the manifest's ``model_root``), so holding the signed manifest proves
which shards belong to which announced model without trusting any event's tags. One shard is
enough: buyers collect ``k`` shards from several relays, and the order agent takes an order for a
model as soon as it holds one of its shards (:mod:`agihub_services.relay.agent`), so offering and
taking agree.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from agihub.errors import StorageError
from agihub.storage import SignedManifest, parse_manifest
from agihub.storage.manifest import MAX_MANIFEST_SIZE
from agihub_services.db.schema import RelayBlob
from agihub_services.relay.blobs import BlobStore

log = logging.getLogger(__name__)

#: Manifests are JSON objects; blobs not starting with this byte are skipped without parsing.
_JSON_START = b"{"


@dataclass(frozen=True)
class HeldShard:
    """A shard of a model that this relay's blob store holds."""

    index: int
    sha256: str
    size: int


class ModelIndex:
    """``model_root -> shards held here``, rebuilt by :meth:`scan` from the blob store's rows.

    Blobs are content-addressed, so a blob's verdict (manifest or not) never changes: each one is
    parsed at most once per process, and a rescan after an upload costs one query plus the new blobs.
    """

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs
        self._manifests: dict[str, SignedManifest | None] = {}

    def scan(self) -> dict[bytes, list[HeldShard]]:
        """Every held model (raw 32-byte root) with its shards here, in index order."""
        with self.blobs.engine.connect() as conn:
            rows = conn.execute(select(RelayBlob.sha256, RelayBlob.size)).all()
        present = {row.sha256 for row in rows}
        models: dict[bytes, list[HeldShard]] = {}
        for row in rows:
            if row.size > MAX_MANIFEST_SIZE:
                continue
            signed = self._manifest_at(row.sha256)
            if signed is None:
                continue
            held = [
                HeldShard(s.index, s.sha256, s.size) for s in signed.manifest.shards if s.sha256 in present
            ]
            if held:
                models[signed.model_root] = sorted(held, key=lambda s: s.index)
        return models

    def roots(self) -> list[str]:
        """Held model roots as 64 lower-case hex (the form of 31337 ``d`` and 31338 ``m`` tags), sorted."""
        return sorted(root.hex() for root in self.scan())

    def _manifest_at(self, sha256: str) -> SignedManifest | None:
        if sha256 not in self._manifests:
            self._manifests[sha256] = self._parse_manifest(sha256)
        return self._manifests[sha256]

    def _parse_manifest(self, sha256: str) -> SignedManifest | None:
        path = self.blobs.path(sha256)
        try:
            with path.open("rb") as f:
                if f.read(1) != _JSON_START:
                    return None
            return parse_manifest(path.read_bytes())
        except (OSError, StorageError) as exc:
            log.debug("blob %s is not a usable manifest: %s", sha256, exc)
            return None
