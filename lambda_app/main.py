"""Build the FastAPI app: routers, error handlers, OpenAPI description."""

from __future__ import annotations

import copy
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, request_response
from starlette.types import ASGIApp, Receive, Scope, Send

from lambda_app.config import get_settings
from lambda_app.dependencies import BEARER_SCHEME, BEARER_SCHEME_NAME
from lambda_app.middleware.cors import add_cors
from lambda_app.middleware.request_body import RequestBodyMiddleware
from lambda_app.middleware.request_log import RequestLogMiddleware
from lambda_app.problems import PROBLEM_MEDIA_TYPE, add_problem_handlers
from lambda_app.routers import avatars, health, me, users
from lambda_app.schemas.problems import Problem
from lambda_app.utils.json_logs import install_request_id_stamp

API_VERSION = "1.0.0"
DOCS_OFF: dict[str, Any] = {"docs_url": None, "redoc_url": None, "openapi_url": None}


def create_app() -> FastAPI:
    """Return the users service app."""
    install_request_id_stamp()
    settings = get_settings()
    docs_urls = {} if settings.api_docs else DOCS_OFF
    app = FastAPI(
        title="Users service",
        version=API_VERSION,
        summary="Users and their files, on AWS Lambda.",
        generate_unique_id_function=operation_id,
        **docs_urls,
    )
    add_problem_handlers(app)
    # Added last runs first: every request is logged, even one refused for its body.
    app.add_middleware(RequestBodyMiddleware, max_bytes=settings.max_body_bytes)
    if settings.cors_allowed_origins:
        add_cors(app, settings.cors_allowed_origins)
    app.add_middleware(RequestLogMiddleware)
    for router in (health.router, me.router, users.router, avatars.router):
        add_routes_of(app, router)
    pages_matched_last(app)
    describe_openapi = app.openapi
    app.openapi = lambda: share_problem_schema(  # type: ignore[method-assign]
        document_bearer_auth(describe_openapi())
    )
    return app


def add_routes_of(app: FastAPI, router: APIRouter) -> None:
    """Declare `router`'s routes on `app` itself, as `include_router` once did.

    `routers/` stay where routes are declared, with their prefix and tags. FastAPI's
    `include_router` now keeps each router nested, and every request is matched through each
    included one twice (some 250 Python calls, about a twentieth of a warm request's CPU);
    routes declared on the app are matched once. They take the app's operation ids.

    Each is a copy of the route its router's decorator built, not built anew: building
    resolves every dependency and response model again (some 30 ms of a cold start). The
    copy takes the app's operation id and dependency overrides, so its request handler is
    made again, as `APIRoute.__init__` makes it for a route without a body limit of its own.
    """
    for declared in router.routes:
        if not isinstance(declared, APIRoute):
            raise TypeError(f"{declared!r}: only API routes are declared in routers/")
        if declared.max_body_size is not None:
            raise TypeError(f"{declared!r}: the app limits bodies (MAX_BODY_BYTES), not routes")
        route = copy.copy(declared)
        route.generate_unique_id_function = operation_id
        route.unique_id = route.operation_id or operation_id(route)
        route.dependency_overrides_provider = app
        route.app = request_response(route.get_route_handler())
        app.router.routes.append(route)


def pages_matched_last(app: FastAPI) -> None:
    """Move FastAPI's own pages (/docs, /openapi.json: not API routes) behind the API's routes.

    A request is matched against the routes in order until one matches in full, and FastAPI
    adds its pages first: `GET /users/{id}` was tried against four of them before its own.
    """
    app.router.routes.sort(key=lambda route: not isinstance(route, APIRoute))


def document_bearer_auth(spec: dict[str, Any]) -> dict[str, Any]:
    """Declare the bearer scheme, taken by every operation that can answer 401 (in place).

    Written here rather than by a security dependency, which FastAPI would resolve on every
    request only to document the header that `authenticate` reads anyway.
    """
    schemes = spec.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes[BEARER_SCHEME_NAME] = BEARER_SCHEME
    for item in spec.get("paths", {}).values():
        for operation in item.values():
            if "401" in operation.get("responses", {}):
                operation["security"] = [{BEARER_SCHEME_NAME: []}]
    return spec


def share_problem_schema(spec: dict[str, Any]) -> dict[str, Any]:
    """Point every problem+json response at one `Problem` component (in place; idempotent).

    Each response otherwise carries its own copy of the schema with nested `$defs`, which
    client generators cannot resolve: they would drop every error response.
    """
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components = spec.setdefault("components", {}).setdefault("schemas", {})
    components.update(schema.pop("$defs", {}))
    components[Problem.__name__] = schema
    for item in spec.get("paths", {}).values():
        for operation in item.values():
            for response in operation.get("responses", {}).values():
                problem = response.get("content", {}).get(PROBLEM_MEDIA_TYPE)
                if problem is not None:
                    problem["schema"] = {"$ref": f"#/components/schemas/{Problem.__name__}"}
    return spec


def operation_id(route: APIRoute) -> str:
    """A route's OpenAPI operationId: its function's name, e.g. `create_user`.

    Generated clients name their methods after it; FastAPI's default appends the path and
    method (`create_user_users_post`). Route function names are unique across routers.
    """
    return route.name


def serve_under(app: ASGIApp, root_path: str) -> ASGIApp:
    """Tell `app` that it is mounted at `root_path`, e.g. a named API Gateway stage."""
    prefix = root_path.rstrip("/")
    if not prefix:
        return app

    async def with_root_path(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "root_path": prefix}
        await app(scope, receive, send)

    return with_root_path
