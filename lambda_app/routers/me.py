"""HTTP routes for the caller's own record: read it, register with the token's email."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from pydantic import ValidationError
from sqlalchemy import Connection

from lambda_app.auth import Principal
from lambda_app.crud import users as crud
from lambda_app.crud.users import UserRow
from lambda_app.db import get_engine
from lambda_app.dependencies import AuthenticatedRoute, deadline_of, principal_of, released_caller
from lambda_app.exceptions import (
    EmailAlreadyExistsError,
    IdentityAlreadyRegisteredError,
    InvalidEmailClaimError,
    MissingEmailClaimError,
    NotAuthenticatedError,
    UserNotFoundError,
)
from lambda_app.external_services import cognito
from lambda_app.idempotent_requests import IdempotencyKeyDep, keyed_request, run_once
from lambda_app.preconditions import ETAG_HEADER, IF_NONE_MATCH_PARAMETER, NOT_MODIFIED, read_answer
from lambda_app.problems import problem_responses
from lambda_app.routers.user_answers import WRITTEN_HEADERS, set_location, written
from lambda_app.schemas.users import TokenEmail, UserRead

# Declared before routers/users.py's routes: `/users/me` is not a user id.
router = APIRouter(prefix="/users", tags=["users"], route_class=AuthenticatedRoute)


@router.get(
    "/me",
    response_model=UserRead,
    summary="Read my record",
    responses={200: {"headers": ETAG_HEADER}, **NOT_MODIFIED, **problem_responses(401, 404, 503)},
    openapi_extra={"parameters": [IF_NONE_MATCH_PARAMETER]},
)
async def read_me(request: Request, response: Response) -> UserRow | Response:
    """Return the caller's own record; 404 until they register."""
    # One statement: its connection goes back to the pool before the answer is built.
    with get_engine().connect() as connection:
        me = crud.find_user_by_subject(connection, subject=principal_of(request).subject)
    if me is None:
        raise UserNotFoundError("You are not registered yet: POST /users/me.")
    request.state.user_id = str(me.id)  # for the request log line
    return read_answer(me, request.headers.get("if-none-match"), response)


@router.post(
    "/me",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    summary="Register myself",
    responses={
        200: {
            "model": UserRead,
            "description": "An account an admin made for my email, now mine",
            "headers": WRITTEN_HEADERS,
        },
        201: {"headers": WRITTEN_HEADERS},
        **problem_responses(400, 401, 409, 413, 415, 422, 502, 503),
    },
)
async def register_me(
    request: Request, response: Response, idempotency_key: IdempotencyKeyDep
) -> UserRow | Response:
    """Register with the token's verified email; 200 when it takes over an admin-made account.

    Where the service provisions identities, the token's identity must still be in the pool:
    a token outlives the deletion of its identity by up to an hour, and must not bring a
    deleted user back as a customer.
    """
    deadline = deadline_of(request)
    principal = principal_of(request)
    caller = released_caller(request)
    # Asked before any connection is taken: Cognito may be slow.
    if (
        caller is None
        and cognito.provisioning_enabled()
        and not cognito.identity_is_active(principal.subject, deadline=deadline)
    ):
        raise NotAuthenticatedError(
            "The sign-in behind this token was removed or disabled; sign in again."
        )

    def register(connection: Connection) -> UserRow:
        # Checked here, not first: the retry of a registration that worked is a replay.
        if caller is not None:
            raise IdentityAlreadyRegisteredError(crud.ALREADY_REGISTERED)
        email = verified_email(principal)
        registered = crud.register_or_link(connection, email=email, subject=principal.subject)
        if registered is None:
            raise EmailAlreadyExistsError(
                "The account with your email is linked to another sign-in; ask an admin."
            )
        user, created = registered
        if created:
            set_location(request, response, user)
        else:
            response.status_code = status.HTTP_200_OK
        return written(user, response)

    keyed = keyed_request(idempotency_key, subject=principal.subject, request=request, body=None)
    with get_engine().connect() as connection:
        if keyed is None:
            return register(connection)
        return run_once(
            connection,
            keyed,
            response=response,
            status_code=status.HTTP_201_CREATED,
            answer=lambda: UserRead.model_validate(register(connection)),
        )


def verified_email(principal: Principal) -> str:
    """The token's verified email, validated and normalised like an email in a body."""
    if principal.email is None:
        raise MissingEmailClaimError(
            "The token has no verified email; sign in with an ID token whose email is verified."
        )
    try:
        return TokenEmail(email=principal.email).email
    except ValidationError as error:
        reason = "; ".join(str(item["msg"]) for item in error.errors())
        raise InvalidEmailClaimError(f"The token's email is not valid: {reason}.") from None
