"""The wallet dApp page, served by the marketplace API at ``/app`` (see README.md here)."""
