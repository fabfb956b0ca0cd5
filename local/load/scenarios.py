"""The load's mix: plain requests, and rounds that make requests meet on purpose.

Each scenario is one short story told through the containers; `SCENARIOS` weighs them.
Rounds marked "at once" send their requests to different containers at the same moment.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from local.load.fleet import ApiAnswer, ApiRequest, Identity
from local.load.read_after import READ_AFTER, page_after_write
from local.load.tally import CLIENT_UPLOAD, ConditionalWrite, KeyedAnswer, SignUpTwins
from local.load.workload import (
    AVATAR,
    ME,
    ROOT_ADMIN,
    USER,
    USERS,
    KnownUser,
    World,
    if_match,
    route,
    version_in,
)
from local.smoke.steps import tiny_png

Scenario = Callable[[World], Awaitable[None]]
USER_TYPES = ("customer", "staff")
# The status counted for an upload that got no HTTP answer at all.
UPLOAD_FAILED = 0


def _user_request(
    method: str,
    user: KnownUser,
    caller: Identity,
    *,
    template: str = USER,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> ApiRequest:
    path = template.replace("{user_id}", user.id)
    return ApiRequest(route(method, template), path, caller, body=body, headers=headers or {})


async def create(world: World) -> None:
    """An admin creates a customer or a staff member."""
    body = {
        "email": world.new_email("user"),
        "full_name": "Load Test",
        "user_type": world.rng.choice(USER_TYPES),
    }
    world.adopt(await world.call(ApiRequest(route("POST", USERS), USERS, ROOT_ADMIN, body=body)))


async def read(world: World) -> None:
    """An admin or a staff member reads a user."""
    user = world.hot_user()
    if user is None:
        return await create(world)
    caller = world.rng.choice((ROOT_ADMIN, world.staff))
    await world.call(_user_request("GET", user, caller))
    return None


async def list_users(world: World) -> None:
    """A caller lists the first page, a later one, one type, or its latest write's (Read-After)."""
    caller = world.rng.choice((ROOT_ADMIN, world.staff))
    named = world.latest_writes.get(caller)
    query = {"limit": "20"}
    variant = world.rng.randrange(3 if named is None else 4)
    if variant == 1:
        query["offset"] = str(world.rng.randrange(0, 100))
    elif variant == 2:
        query["user_type"] = world.rng.choice(USER_TYPES)
    elif variant == 3 and named is not None:
        query["email"] = named.email
    headers = {READ_AFTER: named.etag} if named is not None else {}
    page = ApiRequest(route("GET", USERS), USERS, caller, query=query, headers=headers)
    answer = await world.call(page)
    if named is not None and answer.status == 200:
        world.evidence.pages_after_writes.append(
            page_after_write(named, query, answer, time.monotonic())
        )


async def read_me(world: World) -> None:
    """A signed-up user reads their own record."""
    await world.call(ApiRequest(route("GET", ME), ME, world.linked_identity()))


async def update(world: World) -> None:
    """An admin renames a user, If-Match the newest version it has seen (maybe stale by now)."""
    user = world.hot_user()
    if user is None:
        return await create(world)
    await _write_if_match(world, "PATCH", user, user.version, known_stale=False)
    return None


async def stale_write(world: World) -> None:
    """Read, write If-Match that version, then write again with the version now surely old."""
    user = world.hot_user()
    if user is None:
        return await create(world)
    version = version_in(await world.call(_user_request("GET", user, ROOT_ADMIN)))
    if version is None:
        return None
    first = await _write_if_match(world, "PATCH", user, version, known_stale=False)
    if first.status == 200:
        method = world.rng.choice(("PATCH", "DELETE"))
        await _write_if_match(world, method, user, version, known_stale=True)
    return None


async def delete(world: World) -> None:
    """An admin deletes a user, half the time If-Match the newest version seen."""
    user = world.hot_user()
    if user is None:
        return await create(world)
    if world.rng.random() < 0.5:
        await _write_if_match(world, "DELETE", user, user.version, known_stale=False)
    else:
        await world.call(_user_request("DELETE", user, ROOT_ADMIN))
    return None


async def contended_delete(world: World) -> None:
    """At once: an admin deletes a user while another renames it and staff reads it."""
    user = world.hot_user()
    if user is None:
        return await create(world)
    version = user.version
    rename = _user_request(
        "PATCH", user, ROOT_ADMIN, body={"full_name": "Renamed"}, headers=if_match(user.id, version)
    )
    requests = [
        _user_request("DELETE", user, ROOT_ADMIN),
        rename,
        _user_request("GET", user, world.staff),
    ][: world.fleet.size]
    answers = await world.call_together(requests)
    if len(answers) > 1:
        _record_write(world, rename, user, version, answers[1], known_stale=False)
    return None


async def avatar(world: World) -> None:
    """An admin starts an avatar upload, the client posts the file to S3, then it is read."""
    user = world.hot_user()
    if user is None:
        return await create(world)
    form = await world.call(
        _user_request("POST", user, ROOT_ADMIN, template=AVATAR, body={"content_type": "image/png"})
    )
    if form.status != 201:
        return None
    started = time.perf_counter()
    try:
        uploaded = await world.uploads.post(
            form.field("url"),
            data=form.field("fields"),
            files={"file": ("avatar.png", tiny_png(user.id.encode()), "image/png")},
        )
        status = uploaded.status_code
    except httpx.HTTPError:
        status = UPLOAD_FAILED
    world.tally.add(
        CLIENT_UPLOAD, ApiAnswer(status, {}, None, (time.perf_counter() - started) * 1000)
    )
    await world.call(_user_request("GET", user, ROOT_ADMIN, template=AVATAR))
    if world.rng.random() < 1 / 3:
        await world.call(_user_request("DELETE", user, ROOT_ADMIN, template=AVATAR))
    return None


async def idempotent_twins(world: World) -> None:
    """At once: the same keyed create twice; then its retry, which must replay the first."""
    key = uuid.uuid4().hex
    body = {"email": world.new_email("keyed"), "user_type": "customer"}
    request = ApiRequest(
        route("POST", USERS), USERS, ROOT_ADMIN, body=body, headers={"Idempotency-Key": key}
    )
    answers = await world.call_together([request, request])
    answers.append(await world.call(request))
    for answer in answers:
        world.evidence.keyed[key].append(
            KeyedAnswer(
                status=answer.status,
                user_id=answer.field("id") if answer.status < 300 else None,
                replayed=answer.headers.get("idempotent-replayed") == "true",
            )
        )
        world.adopt(answer)


async def type_swap(world: World) -> None:
    """At once: two users change to opposite types, or one user is set to both."""
    pair = world.hot_pair()
    if pair is None:
        return await create(world)
    first, second = pair
    if world.rng.random() < 0.5:
        second = first
    await world.call_together(
        [
            _user_request("PATCH", first, ROOT_ADMIN, body={"user_type": "staff"}),
            _user_request("PATCH", second, ROOT_ADMIN, body={"user_type": "customer"}),
        ]
    )
    return None


async def demote(world: World) -> None:
    """At once: two admins make each other customers; then the root admin promotes both back."""
    if world.admins_busy.locked() or len(world.admins) < 2:
        return await read(world)
    async with world.admins_busy:
        first, second = world.admins[:2]
        assert first.identity is not None
        assert second.identity is not None
        demoted = {"user_type": "customer"}
        await world.call_together(
            [
                _user_request("PATCH", second, first.identity, body=demoted),
                _user_request("PATCH", first, second.identity, body=demoted),
            ]
        )
        promoted = {"user_type": "admin"}
        await world.call_together(
            [
                _user_request("PATCH", first, ROOT_ADMIN, body=promoted),
                _user_request("PATCH", second, ROOT_ADMIN, body=promoted),
            ]
        )
    return None


async def link_twins(world: World) -> None:
    """An admin creates a user; at once, twice, that email's identity signs up and is linked."""
    email = world.new_email("linked")
    made = await world.call(
        ApiRequest(
            route("POST", USERS), USERS, ROOT_ADMIN, body={"email": email, "user_type": "customer"}
        )
    )
    if made.status != 201:
        return
    identity = Identity(subject=f"load|{email}", email=email)
    sign_up = ApiRequest(route("POST", ME), ME, identity)
    answers = await world.call_together([sign_up, sign_up])
    world.evidence.sign_up_twins.append(
        SignUpTwins(
            user_id=made.field("id"),
            answers=tuple(
                (answer.status, answer.field("title"), answer.field("id")) for answer in answers
            ),
        )
    )
    # A target only now: a delete in between would make the sign-up a new user, rightly.
    world.adopt(made, identity)


async def register(world: World) -> None:
    """A new identity signs up."""
    email = world.new_email("self")
    identity = Identity(subject=f"load|{email}", email=email)
    world.adopt(await world.call(ApiRequest(route("POST", ME), ME, identity)), identity)


async def _write_if_match(
    world: World, method: str, user: KnownUser, version: int, *, known_stale: bool
) -> ApiAnswer:
    body = {"full_name": f"Name {world.rng.getrandbits(24)}"} if method == "PATCH" else None
    request = _user_request(method, user, ROOT_ADMIN, body=body, headers=if_match(user.id, version))
    answer = await world.call(request)
    _record_write(world, request, user, version, answer, known_stale=known_stale)
    return answer


def _record_write(
    world: World,
    request: ApiRequest,
    user: KnownUser,
    version: int,
    answer: ApiAnswer,
    *,
    known_stale: bool,
) -> None:
    world.evidence.conditional_writes.append(
        ConditionalWrite(
            route=request.route,
            user_id=user.id,
            if_match_version=version,
            status=answer.status,
            new_version=version_in(answer),
            known_stale=known_stale,
        )
    )


# Scenario -> weight in the mix.
SCENARIOS: dict[str, tuple[int, Scenario]] = {
    "create": (10, create),
    "read": (18, read),
    "list": (12, list_users),
    "read me": (6, read_me),
    "update": (10, update),
    "stale If-Match": (4, stale_write),
    "delete": (5, delete),
    "contended delete": (4, contended_delete),
    "avatar": (8, avatar),
    "idempotent twins": (6, idempotent_twins),
    "type swap": (6, type_swap),
    "admins demote each other": (3, demote),
    "sign-up twins": (5, link_twins),
    "register": (3, register),
}
