"""external services of the users service."""
