"""The one database schema shared by the API, the indexer and the worker, with its migrations.

Tables are declared in :mod:`agihub_services.db.schema`; every change ships as an Alembic revision in
``migrations/versions`` (a test checks that the migrated database equals the declared schema).
"""
