"""The schema, as SQLAlchemy Core tables in `tables`: one definition of every column."""
