"""routers of the users service."""
