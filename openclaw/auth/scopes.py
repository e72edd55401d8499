"""Operator scopes and their implications (``operator-scope-compat``, ``method-scopes``).

* ``operator.admin`` satisfies every operator scope;
* ``operator.write`` satisfies ``operator.read`` (and the talk/session-read scopes);
* a method without a classification requires ``operator.admin`` (default deny);
* ``health`` is exempt from role and scope checks.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Final, Literal

import attrs

ROLE_OPERATOR: Final = "operator"
ROLE_NODE: Final = "node"
ROLES: Final = frozenset({ROLE_OPERATOR, ROLE_NODE})

ADMIN: Final = "operator.admin"
READ: Final = "operator.read"
WRITE: Final = "operator.write"
APPROVALS: Final = "operator.approvals"
PAIRING: Final = "operator.pairing"
QUESTIONS: Final = "operator.questions"
TALK: Final = "operator.talk"
TALK_SECRETS: Final = "operator.talk.secrets"
SESSIONS_READ: Final = "operator.sessions.read"
SESSIONS_WRITE: Final = "operator.sessions.write"

KNOWN_OPERATOR_SCOPES: Final = frozenset(
    {ADMIN, READ, WRITE, APPROVALS, PAIRING, QUESTIONS, TALK, TALK_SECRETS, SESSIONS_READ,
     SESSIONS_WRITE}
)

# Scope marker for methods any authenticated connection may call (``health``).
PUBLIC: Final = "public"
# Scope marker for node-role methods (``node.invoke.result`` & co).
NODE_ONLY: Final = "node"

_IMPLIED_BY_WRITE: Final = frozenset({READ, TALK, SESSIONS_READ, SESSIONS_WRITE})


def scope_satisfied(required_scope: str, granted: Collection[str]) -> bool:
    """Whether ``granted`` satisfies ``required_scope`` with the implication rules."""
    if not required_scope.startswith("operator."):
        return False
    if required_scope in granted or ADMIN in granted:
        return True
    if required_scope in _IMPLIED_BY_WRITE and WRITE in granted:
        return True
    return required_scope == SESSIONS_READ and (READ in granted or SESSIONS_WRITE in granted)


def missing_requested_scope(
    role: str, requested: Sequence[str], allowed: Collection[str]
) -> str | None:
    """First requested scope not covered by ``allowed`` (``resolveMissingRequestedScope``)."""
    allowed_trimmed = [scope.strip() for scope in allowed]
    prefix = f"{role.strip()}."
    for scope in requested:
        wanted = scope.strip()
        if not wanted:
            continue
        if role == ROLE_OPERATOR:
            ok = scope_satisfied(wanted, allowed_trimmed)
        else:
            ok = wanted.startswith(prefix) and wanted in allowed_trimmed
        if not ok:
            return scope
    return None


def role_scopes_allow(role: str, requested: Sequence[str], allowed: Collection[str]) -> bool:
    return missing_requested_scope(role, requested, allowed) is None


@attrs.frozen
class MethodDenial:
    """Why a method call is refused: the caller's role, or a scope it lacks."""

    kind: Literal["role", "scope"]
    role: str
    missing_scope: str | None = None


def method_denial(
    role: str, scopes: Collection[str], required_scope: str | None
) -> MethodDenial | None:
    """The dispatcher's gate (``authorizeGatewayMethod``); ``None`` means allowed.

    ``required_scope`` is the registry's classification: an operator scope, :data:`PUBLIC`,
    :data:`NODE_ONLY`, or ``None`` for an unknown method (which then needs admin).
    """
    if required_scope == PUBLIC:
        return None
    if role not in ROLES:
        return MethodDenial("role", role)
    is_node_method = required_scope == NODE_ONLY
    if is_node_method != (role == ROLE_NODE):
        return MethodDenial("role", role)
    if role == ROLE_NODE:
        return None
    if ADMIN in scopes:
        return None
    needed = required_scope if required_scope is not None else ADMIN
    if scope_satisfied(needed, scopes):
        return None
    return MethodDenial("scope", role, needed)
