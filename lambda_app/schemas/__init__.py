"""schemas of the users service."""
