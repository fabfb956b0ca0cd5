"""Each user's Cognito identity, kept in step with their row through the outbox.

The row is the source of truth; its `subject` is the identity's `sub`. A change that owes
Cognito something enqueues the task in its own statement; the request runs it after the
commit, with no connection held while Cognito works, and the drain retries what failed.
Each task reads the row afresh, so a task that runs late or twice acts on the row as it is.

- provision_identity: AdminCreateUser (or find the email's identity), then link the row to
  its `sub` and mark the task done in one statement.
- sync_identity_email: give the identity the row's email, verified.
- remove_identity: sign the identity out everywhere, then delete it; never one that a row
  still holds.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import Engine

from lambda_app.crud import identities as crud
from lambda_app.crud import outbox
from lambda_app.crud.outbox import Task, TaskKind
from lambda_app.deadline import Deadline
from lambda_app.exceptions import IdentityAlreadyRegisteredError, IdentityTakenError
from lambda_app.external_services import cognito

logger = logging.getLogger(__name__)


class EmailChangedError(Exception):
    """The user's email changed while their identity was being created: try again."""


def provision_identity(engine: Engine, task: Task, deadline: Deadline) -> bool:
    """Create or find the identity of the user's email and link the user to it.

    Returns whether the task was marked done here (in the linking statement, or replaced by
    the removal of an identity it created for nobody). Raises `IdentityTakenError` when the
    email's identity is another user's: no retry can mend that.
    """
    user_id = uuid.UUID(task.subject)
    with engine.connect() as connection:
        user = crud.user_link(connection, user_id=user_id)
    if user is None or user.subject is not None:
        return False  # deleted, or linked meanwhile (a sign-in registered them): nothing owed
    invite = bool(task.payload.get("invite", True))
    identity = cognito.create_identity(user.email, invite=invite, deadline=deadline)
    try:
        with engine.connect() as connection:
            outcome = crud.link_identity(
                connection,
                user_id=user_id,
                email=user.email,
                subject=identity.subject,
                task_id=task.id,
            )
    except IdentityAlreadyRegisteredError:
        raise IdentityTakenError(
            "This email's identity in the user pool is linked to another user; "
            "ask an operator to reconcile identities."
        ) from None
    if outcome.linked:
        return True
    before = outcome.before
    if identity.created and (before is None or before.subject != identity.subject):
        # Created for a user who is gone, was linked elsewhere or changed email meanwhile.
        with engine.connect() as connection:
            outbox.enqueue(
                connection,
                kind=TaskKind.REMOVE_IDENTITY,
                subject=task.subject,
                payload={"identity": identity.subject},
            )
    if before is not None and before.subject is None:
        raise EmailChangedError("The user's email changed while their identity was created.")
    return False


def sync_identity_email(engine: Engine, task: Task, deadline: Deadline) -> bool:
    """Give the user's identity the email their row has now, verified."""
    with engine.connect() as connection:
        user = crud.user_link(connection, user_id=uuid.UUID(task.subject))
    # Gone: the removal task deals with the identity. Unlinked: provisioning uses the new email.
    if user is None or user.subject is None:
        return False
    if not cognito.update_identity_email(user.subject, user.email, deadline=deadline):
        # The reconcile operation reports it (a subject pointing nowhere) and repairs it.
        logger.warning("User %s is linked to an identity that does not exist", task.subject)
    return False


def remove_identity(engine: Engine, task: Task, deadline: Deadline) -> bool:
    """Sign out and delete the identity of a deleted user (by `sub`, else by email).

    An identity that a user is linked to again (or whose email found another user's) stays.
    """
    subject = task.payload.get("identity")
    if subject is None:
        email = task.payload.get("email")
        found = cognito.find_identity(str(email), deadline=deadline) if email else None
        if found is None:
            return False
        subject = found.subject
    with engine.connect() as connection:
        held = crud.holds_identity(connection, subject=str(subject))
    if not held:
        cognito.remove_identity(str(subject), deadline=deadline)
    return False
