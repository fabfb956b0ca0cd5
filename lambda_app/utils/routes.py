"""The route a request matched, as its log line, metrics and trace name it."""

from __future__ import annotations

from starlette.types import Scope

# The route of a request that matched none (a 404, say).
UNMATCHED = "unmatched"


def route_template(scope: Scope) -> str:
    """The matched route's path template, or UNMATCHED: a bounded set, fit for a metric."""
    route = scope.get("route")
    if route is not None:
        return str(route.path)
    # FastAPI sets "route" for its API routes only, not for the pages it adds itself (/docs,
    # /openapi.json). Those match with no path parameter, so their path is their template.
    if "endpoint" in scope and not scope.get("path_params"):
        return str(scope["path"]).removeprefix(scope.get("root_path", ""))
    return UNMATCHED
