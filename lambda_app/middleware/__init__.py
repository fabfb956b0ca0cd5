"""ASGI middleware around the app: request logging and request body checks."""
