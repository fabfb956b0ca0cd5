"""`make load URL=... TOKEN=...`: a mixed workload from concurrent HTTP clients on a deployed API.

One admin's token is all a deployed API gives the load, so this mode has no contended rounds
between identities: creates, reads, lists, updates, deletes and avatar forms, by weight.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid

import httpx

from local.load.fleet import ApiAnswer
from local.load.report import route_table
from local.load.tally import Tally
from local.load.workload import AVATAR, USER, USERS, route

# Route -> weight in the mix.
MIX = {
    route("POST", USERS): 15,
    route("GET", USER): 30,
    route("GET", USERS): 25,
    route("PATCH", USER): 15,
    route("DELETE", USER): 5,
    route("POST", AVATAR): 10,
}
NEEDS_A_USER = {name for name in MIX if "{user_id}" in name}


async def client_loop(api: httpx.AsyncClient, deadline: float, tally: Tally, seed: int) -> None:
    """One client: pick a route by weight, call it, count the answer, until the deadline."""
    rng = random.Random(seed)  # noqa: S311 - a workload mix, not a secret
    mine: list[str] = []
    names, weights = list(MIX), list(MIX.values())
    while time.monotonic() < deadline:
        name = rng.choices(names, weights)[0]
        if name in NEEDS_A_USER and not mine:
            name = route("POST", USERS)
        started = time.perf_counter()
        try:
            response = await _call(api, name, mine, rng)
        except httpx.HTTPError as error:
            tally.transport_errors[f"{name}: {type(error).__name__}"] += 1
            continue
        milliseconds = (time.perf_counter() - started) * 1000
        headers = {"content-type": response.headers.get("content-type", "")}
        body = response.json() if response.status_code >= 500 and response.content else None
        tally.add(name, ApiAnswer(response.status_code, headers, body, milliseconds))


async def _call(
    api: httpx.AsyncClient, name: str, mine: list[str], rng: random.Random
) -> httpx.Response:
    if name == route("POST", USERS):
        response = await api.post(USERS, json={"email": f"load-{uuid.uuid4().hex}@example.com"})
        if response.status_code == 201:
            mine.append(response.json()["id"])
        return response
    if name == route("GET", USERS):
        return await api.get(USERS, params={"limit": 20, "offset": rng.randrange(0, 200)})
    user_id = rng.choice(mine)
    path = f"{USERS}/{user_id}"
    if name == route("GET", USER):
        return await api.get(path)
    if name == route("PATCH", USER):
        return await api.patch(path, json={"full_name": f"Name {rng.random()}"})
    if name == route("POST", AVATAR):
        return await api.post(f"{path}/avatar", json={"content_type": "image/png"})
    mine.remove(user_id)
    return await api.delete(path)


async def drive(url: str, token: str, clients: int, seconds: float) -> Tally:
    """Run `clients` concurrent clients against `url` for `seconds`."""
    tally = Tally()
    # Idle connections are dropped before a server's keep-alive timeout (often 5 s) closes
    # them, or a request may race the server's close and fail with a ReadError.
    limits = httpx.Limits(
        max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=2
    )
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, limits=limits, timeout=30
    ) as api:
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(client_loop(api, deadline, tally, seed) for seed in range(clients)))
    return tally


def run_remote(url: str, token: str, clients: int, seconds: float) -> int:
    """Drive the API and print the figures; non-zero on any 5xx or transport error."""
    tally = asyncio.run(drive(url, token, clients, seconds))
    print(
        f"\n{clients} clients for {seconds:.0f} s on {url}: {tally.requests} requests, "
        f"{tally.requests / seconds:.0f} req/s"
    )
    print(route_table(tally))
    failures = len(tally.server_errors) + sum(tally.transport_errors.values())
    print(f"5xx: {len(tally.server_errors)}, transport errors: {dict(tally.transport_errors)}")
    return 1 if failures else 0
