"""Clients generated from the service's OpenAPI (`make client`); never edited by hand."""
