"""A small IAM policy evaluator: Allow and Deny, wildcards, and the condition operators used here.

It follows AWS's documented evaluation logic for a request inside one account: a request
is allowed when an identity-based or a resource-based policy allows it and no policy
denies it; an explicit Deny always wins
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-basics.html).
A condition whose key the request does not carry is false, except for the negated
operators, `...IfExists` and `Null`
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).

What it does not know (set operators, policy variables, numeric and date operators)
raises `UnsupportedPolicyError`, so a policy it cannot judge fails the test instead of
passing it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

Statement = Mapping[str, Any]


class UnsupportedPolicyError(Exception):
    """The policy uses an element this evaluator does not implement."""


class Decision(Enum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit deny"
    IMPLICIT_DENY = "implicit deny"


@dataclass(frozen=True)
class Request:
    """One authorization question: may `principal` do `action` on `resource` in `context`?"""

    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)
    principal: str = ""


def evaluate(
    request: Request,
    identity_statements: Iterable[Statement],
    resource_statements: Iterable[Statement] = (),
) -> Decision:
    """Decide `request` against an identity's policies and the resource's own policies."""
    allowed = False
    for statement in identity_statements:
        effect = _applies(statement, request, resource_policy=False)
        if effect == "Deny":
            return Decision.EXPLICIT_DENY
        allowed = allowed or effect == "Allow"
    for statement in resource_statements:
        effect = _applies(statement, request, resource_policy=True)
        if effect == "Deny":
            return Decision.EXPLICIT_DENY
        allowed = allowed or effect == "Allow"
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def _applies(statement: Statement, request: Request, *, resource_policy: bool) -> str | None:
    """Return the statement's Effect when it matches the request, else None."""
    effect = str(statement["Effect"])
    if effect not in {"Allow", "Deny"}:
        raise UnsupportedPolicyError(f"Effect {effect!r}")
    if not _element_matches(statement, "Action", request.action, case_sensitive=False):
        return None
    if not _element_matches(statement, "Resource", request.resource, case_sensitive=True):
        return None
    if resource_policy and not _principal_matches(statement, request.principal):
        return None
    if not _conditions_hold(statement.get("Condition", {}), request.context):
        return None
    return effect


def _element_matches(
    statement: Statement, element: str, value: str, *, case_sensitive: bool
) -> bool:
    negated = f"Not{element}"
    if element in statement:
        return any(_like(p, value, case_sensitive) for p in _as_list(statement[element]))
    if negated in statement:
        return not any(_like(p, value, case_sensitive) for p in _as_list(statement[negated]))
    # A resource policy statement may leave Resource out only in AWS's own examples.
    raise UnsupportedPolicyError(f"statement without {element} or {negated}: {statement}")


def _principal_matches(statement: Statement, principal: str) -> bool:
    if "NotPrincipal" in statement:
        raise UnsupportedPolicyError("NotPrincipal")
    given = statement.get("Principal")
    if given == "*":
        return True
    if not isinstance(given, Mapping):
        raise UnsupportedPolicyError(f"Principal {given!r}")
    for principal_pattern in _as_list(given.get("AWS", [])):
        if principal_pattern in {"*", principal}:
            return True
        # An account (its root ARN or bare id) stands for every principal in it.
        names_account = principal_pattern.endswith(":root") or principal_pattern.isdigit()
        if names_account and _account_of(principal_pattern) == _account_of(principal):
            return True
    return False  # Service and federated principals never match a role's session


def _account_of(arn_or_account: str) -> str:
    if re.fullmatch(r"\d{12}", arn_or_account):
        return arn_or_account
    parts = arn_or_account.split(":")
    return parts[4] if len(parts) > 5 and parts[2] == "iam" else ""


_NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals"}
_NEGATED |= {"ArnNotLike"}


def _conditions_hold(
    conditions: Mapping[str, Mapping[str, Any]], context: Mapping[str, str]
) -> bool:
    """Every operator and every key must hold (AND); any one value of a key may match (OR)."""
    for operator, keys in conditions.items():
        if ":" in operator:
            raise UnsupportedPolicyError(f"set operator {operator}")
        base, if_exists = operator.removesuffix("IfExists"), operator.endswith("IfExists")
        for key, expected in keys.items():
            values = [str(v) for v in _as_list(expected)]
            if any("${" in v for v in values):
                raise UnsupportedPolicyError(f"policy variable in {values}")
            if base == "Null":
                wants_absent = values[0].lower() == "true"
                if (key not in context) != wants_absent:
                    return False
                continue
            if key not in context:
                if if_exists or base in _NEGATED:
                    continue
                return False
            if not _operator_holds(base, values, context[key]):
                return False
    return True


def _operator_holds(operator: str, expected: Sequence[str], actual: str) -> bool:
    if operator in {"StringEquals", "ArnEquals"}:
        return actual in expected
    if operator in {"StringNotEquals", "ArnNotEquals"}:
        return actual not in expected
    if operator == "StringEqualsIgnoreCase":
        return actual.lower() in {v.lower() for v in expected}
    if operator == "StringNotEqualsIgnoreCase":
        return actual.lower() not in {v.lower() for v in expected}
    if operator in {"StringLike", "ArnLike"}:
        return any(_like(v, actual, case_sensitive=True) for v in expected)
    if operator in {"StringNotLike", "ArnNotLike"}:
        return not any(_like(v, actual, case_sensitive=True) for v in expected)
    if operator == "Bool":
        return actual.lower() in {v.lower() for v in expected}
    raise UnsupportedPolicyError(f"condition operator {operator}")


def _like(pattern: str, value: str, case_sensitive: bool) -> bool:
    """IAM wildcards: `*` any run of characters (slashes included), `?` one character."""
    regex = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    flags = 0 if case_sensitive else re.IGNORECASE
    return re.fullmatch(regex, value, flags | re.DOTALL) is not None


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]
