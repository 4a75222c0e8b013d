"""agihub server-side deployables: shared schema (``db``), marketplace API (``api``), dev stack (``dev``)."""
