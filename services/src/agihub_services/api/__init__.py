"""The marketplace API (FastAPI). ``create_app`` builds it; routes live in ``routes/``, one per resource."""
