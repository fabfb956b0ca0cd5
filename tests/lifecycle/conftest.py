"""The lifecycle tests' databases: the migration tests' empty one, set as DATABASE_URL."""

from tests.test_migrate import empty_database

__all__ = ["empty_database"]
