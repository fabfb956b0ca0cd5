"""utils of the users service."""
