"""The driver's model of the users it made, and the calls that keep it up to date."""

from __future__ import annotations

import asyncio
import itertools
import random
import re
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from local.load.fleet import ApiAnswer, ApiRequest, Fleet, Identity
from local.load.read_after import READ_AFTER, named_write, page_source
from local.load.tally import CLIENT_UPLOAD, Evidence, NamedWrite, Tally

ROOT_ADMIN = Identity(subject="load|root@example.com", email="root@example.com")
# Targets are drawn from the newest users, so that requests meet on the same rows.
HOT_USERS = 24
# The API's strong ETag: the user's id (hex) and row version.
ETAG = re.compile(r'^"([0-9a-f]{32})-(\d+)"$')

USERS = "/users"
ME = "/users/me"
USER = "/users/{user_id}"
AVATAR = "/users/{user_id}/avatar"
# Routes that call S3 over the network (a presigned form is signed locally), and the upload.
S3_ROUTES = frozenset({f"DELETE {USER}", f"GET {AVATAR}", f"DELETE {AVATAR}", CLIENT_UPLOAD})
# The title of the API's 404 for a user id that does not exist (not for a missing avatar).
USER_NOT_FOUND = "User not found"
# Creates and updates: their ETag is what the caller's next list pages send as Read-After.
WRITES = frozenset({f"POST {USERS}", f"POST {ME}", f"PATCH {USER}"})


def route(method: str, template: str) -> str:
    """A route's name in the report: its method and template."""
    return f"{method} {template}"


def version_in(answer: ApiAnswer) -> int | None:
    """The row version in the answer's ETag, if it has one."""
    found = ETAG.match(answer.headers.get("etag", ""))
    return int(found.group(2)) if found else None


def if_match(user_id: str, version: int) -> dict[str, str]:
    """The If-Match header naming `version` of the user."""
    return {"If-Match": f'"{user_id.replace("-", "")}-{version}"'}


@dataclass
class KnownUser:
    """A user the driver made: its id, email, identity (once linked) and newest version seen."""

    id: str
    email: str
    version: int
    identity: Identity | None = None


class World:
    """The users the load works on, the fleet it calls and what it records."""

    def __init__(self, fleet: Fleet, rng: random.Random, uploads: httpx.AsyncClient) -> None:
        self.fleet = fleet
        self.rng = rng
        self.uploads = uploads
        self.tally = Tally()
        self.evidence = Evidence()
        self.users: dict[str, KnownUser] = {}
        self.hot: deque[str] = deque(maxlen=HOT_USERS)
        self.staff = Identity(subject="load|staff@example.com", email="staff@example.com")
        self.admins: list[KnownUser] = []
        # One round of admins demoting each other at a time: each ends by promoting both back.
        self.admins_busy = asyncio.Lock()
        # Each identity's latest create or update, while no delete of its came after.
        self.latest_writes: dict[Identity, NamedWrite] = {}
        self._numbers = itertools.count()

    def new_email(self, kind: str) -> str:
        """An email no user of this pass has had."""
        return f"{kind}-{next(self._numbers)}-{self.rng.getrandbits(32):08x}@example.com"

    def adopt(self, answer: ApiAnswer, identity: Identity | None = None) -> KnownUser | None:
        """Remember the user a 2xx answer returned, as a target for later requests."""
        user_id, version = answer.field("id"), version_in(answer)
        if answer.status >= 300 or user_id is None or version is None:
            return None
        if user_id in self.users:  # a replay of an answer already seen
            return self.users[user_id]
        user = KnownUser(user_id, answer.field("email"), version, identity)
        self.users[user.id] = user
        self.hot.append(user.id)
        return user

    def hot_user(self) -> KnownUser | None:
        """One of the newest users still believed to exist."""
        alive = [self.users[user_id] for user_id in self.hot if user_id in self.users]
        return self.rng.choice(alive) if alive else None

    def hot_pair(self) -> tuple[KnownUser, KnownUser] | None:
        """Two different users from the newest."""
        alive = [self.users[user_id] for user_id in self.hot if user_id in self.users]
        if len(alive) < 2:
            return None
        first, second = self.rng.sample(alive, 2)
        return first, second

    def linked_identity(self) -> Identity:
        """An identity that signed up or was linked (the root admin before there is one)."""
        linked = [user.identity for user in self.users.values() if user.identity is not None]
        return self.rng.choice(linked) if linked else ROOT_ADMIN

    async def call(self, request: ApiRequest) -> ApiAnswer:
        """Invoke a container with `request` and learn from its answer."""
        return (await self.call_together([request]))[0]

    async def call_together(self, requests: Sequence[ApiRequest]) -> list[ApiAnswer]:
        """Invoke one container per request, all at the same moment."""
        for request in requests:
            if request.route == route("DELETE", USER):
                self.evidence.deletes_sent.setdefault(request.path.split("/")[2], time.monotonic())
        answers = await self.fleet.call_together(requests)
        for request, answer in zip(requests, answers, strict=True):
            self._learn(request, answer)
        return answers

    def _learn(self, request: ApiRequest, answer: ApiAnswer) -> None:
        self.tally.add(request.route, answer)
        if request.route == route("GET", USERS) and answer.status == 200:
            self.tally.pages_from[page_source(answer, READ_AFTER in request.headers)] += 1
        written = named_write(answer) if request.route in WRITES else None
        if written is not None:
            self.latest_writes[request.caller] = written
        user_id = answer.field("id") if request.route != route("GET", USERS) else None
        version = version_in(answer)
        if user_id in self.users and version is not None:
            known = self.users[user_id]
            known.version = max(known.version, version)
        gone = answer.status == 404 and answer.field("title") == USER_NOT_FOUND
        deleted = request.route == route("DELETE", USER) and answer.status < 300
        if deleted:
            # docs/api.md's rule: a DELETE answers no ETag, so no Read-After until the next write.
            self.latest_writes.pop(request.caller, None)
        if gone or deleted:
            target = request.path.split("/")[2]
            if target != "me":
                self.users.pop(target, None)
