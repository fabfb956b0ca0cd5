"""The app's routes: declared on the app itself, so a request is matched once."""

from __future__ import annotations

from fastapi import HTTPException, status
from fastapi.testclient import TestClient
from starlette.routing import Route

from lambda_app.dependencies import get_connection
from lambda_app.main import create_app
from lambda_app.routers import avatars, health, users


def test_every_route_is_declared_on_the_app_itself() -> None:
    app = create_app()

    assert all(isinstance(route, Route) for route in app.routes)


def test_the_app_serves_every_route_its_routers_declare() -> None:
    declared = {
        (method, route.path)
        for router in (health.router, users.router, avatars.router)
        for route in router.routes
        if isinstance(route, Route)
        for method in route.methods or ()
    }

    served = {
        (method, route.path)
        for route in create_app().routes
        if isinstance(route, Route)
        for method in route.methods or ()
    }

    assert declared <= served


def test_the_app_s_dependency_overrides_reach_the_routes_of_its_routers(
    client: TestClient,
) -> None:
    def refuse() -> None:
        raise HTTPException(status_code=status.HTTP_418_IM_A_TEAPOT)

    client.app.dependency_overrides[get_connection] = refuse  # type: ignore[attr-defined]

    assert client.get("/users").status_code == status.HTTP_418_IM_A_TEAPOT


def test_the_routers_keep_their_own_routes_untouched() -> None:
    before = {id(route): route.app for route in users.router.routes}

    create_app()

    assert {id(route): route.app for route in users.router.routes} == before
