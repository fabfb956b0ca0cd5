"""The schema: Core tables in `tables` (what requests use), ORM classes in `user`.

Nothing is imported here, so that importing the Core tables never loads the ORM.
"""
