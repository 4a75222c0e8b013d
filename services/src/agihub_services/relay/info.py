"""NIP-11 relay information document: https://github.com/nostr-protocol/nips/blob/master/11.md

Built from :class:`RelaySettings`, the same object the handler enforces, so the advertised
``limitation`` block cannot drift from the limits actually applied.
"""

from __future__ import annotations

from typing import Any

import agihub
from agihub.nostr import kinds
from agihub_services.relay.settings import RelaySettings

SUPPORTED_NIPS = [1, 11, 42]
NIP11_MEDIA_TYPE = "application/nostr+json"


def relay_info(settings: RelaySettings, pubkey: str) -> dict[str, Any]:
    """The NIP-11 document; ``pubkey`` is the relay's own Nostr key (hex)."""
    return {
        "name": settings.name,
        "description": settings.description,
        "pubkey": pubkey,
        "contact": settings.contact,
        "supported_nips": SUPPORTED_NIPS,
        "software": "https://github.com/agihub/agihub",
        "version": agihub.__version__,
        "limitation": {
            "max_message_length": settings.max_message_length,
            "max_subscriptions": settings.max_subscriptions,
            "max_filters": settings.max_filters,
            "max_limit": settings.max_limit,
            "default_limit": settings.default_limit,
            "max_subid_length": settings.max_subid_length,
            "max_event_tags": settings.max_event_tags,
            "max_content_length": settings.max_content_length,
            "min_pow_difficulty": 0,
            "auth_required": settings.auth_required,
            "payment_required": False,
            "restricted_writes": settings.auth_required,
            "created_at_lower_limit": settings.created_at_lower_limit,
            "created_at_upper_limit": settings.created_at_upper_limit,
        },
        # agihub extension: where the blob store lives and which agihub kinds this relay understands.
        "agihub": {
            "kinds": {"model_version": kinds.MODEL_VERSION, "relay_offer": kinds.RELAY_OFFER},
            "blossom": True,
            "max_blob_bytes": settings.max_blob_bytes,
            "stream_chunk_bytes": settings.stream_chunk_bytes,
        },
    }
