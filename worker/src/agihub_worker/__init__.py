"""agihub Celery worker. Tasks (``tasks.py``) are thin wrappers taking ids; logic lives in plain modules."""
