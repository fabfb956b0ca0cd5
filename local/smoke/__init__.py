"""`make smoke URL=... TOKEN=...`: check a deployed API end to end, then remove what it created.

TOKEN, an admin's bearer token, is read from the environment (never from the command line, so
it shows in no process list or make echo). Each step prints PASS, FAIL or SKIP and a short
reason; after the first failure the remaining steps are skipped, cleanup always runs, and the
exit code is 1 when any step failed. Output never holds the token, JWTs or presigned URLs.
"""
