"""``/users``: API users and their tokens, for administrators and supervisors.

Administrators manage every user. Supervisors manage the sign-ins of the people they run,
users of role ``agent`` and ``team``: create them, set or reset their password, deactivate
and reactivate them, list, issue and revoke their tokens. A supervisor may list every user
and read any one (names, roles, links; never a secret), but acting on a supervisor or an
administrator, or creating one, is refused with 403 ("Supervisors manage agent and team
users only"): a supervisor cannot raise anyone to staff, nor take over a colleague's or an
administrator's sign-in. The rule is ``may_manage`` below; the /admin page offers only what
it allows.

A token is shown once, in the answer that issues it; the database keeps only its SHA-256,
so listing a user's tokens shows when each was issued, expires or was revoked, never the
token. Deactivating a user stops every token of theirs at the next request.

Passwords (to sign in to the pages) are given when a user is created or later with
``POST /users/{id}/password``: typed, or generated and shown only in that answer. A new
password ends the user's web sessions; their bearer tokens go on working.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Path, status
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field

from api.deps import (
    AUTH_RESPONSES,
    AuthPolicy,
    ServicesDep,
    bearer_scheme,
    get_auth_policy,
    require_roles,
)
from api.schemas import ErrorOut
from store import users as store_users
from store.models import ApiToken, Role, User
from store.users import hash_token

__all__ = ["MANAGED_ROLES", "may_manage", "router"]

RESPONSES: dict[int | str, dict[str, object]] = {
    **AUTH_RESPONSES,
    status.HTTP_403_FORBIDDEN: {
        "model": ErrorOut,
        "description": "The role may not manage users; a supervisor acting on, or creating, "
        "a supervisor or an administrator; or a cookie request without the right "
        "X-CSRF-Token, or from another Origin",
    },
}
router = APIRouter(prefix="/users", tags=["users"], responses=RESPONSES)
log = logging.getLogger(__name__)

Manager = Annotated[
    User, Depends(require_roles(Role.SUPERVISOR, Role.ADMIN, action="manage users"))
]
# Whose users each managing role may act on (and create); a role absent manages nobody.
MANAGED_ROLES: dict[Role, frozenset[Role]] = {
    Role.ADMIN: frozenset(Role),
    Role.SUPERVISOR: frozenset({Role.AGENT, Role.TEAM}),
}
Policy = Annotated[AuthPolicy, Depends(get_auth_policy)]
# Ids are PostgreSQL integers: anything past them cannot exist (422, not a database error).
MAX_ID = 2**31 - 1
UserId = Annotated[int, Path(ge=1, le=MAX_ID, description="User id (see GET /users)")]
TokenId = Annotated[
    int, Path(ge=1, le=MAX_ID, description="Token id (see GET /users/{user_id}/tokens)")
]

NOT_FOUND: dict[int | str, dict[str, object]] = {
    status.HTTP_404_NOT_FOUND: {"model": ErrorOut, "description": "No such user or token"},
}
CREATE_RESPONSES: dict[int | str, dict[str, object]] = {
    status.HTTP_404_NOT_FOUND: {"model": ErrorOut, "description": "No such agent or team"},
    status.HTTP_409_CONFLICT: {"model": ErrorOut, "description": "The name is taken"},
}
DEACTIVATE_RESPONSES: dict[int | str, dict[str, object]] = {
    **NOT_FOUND,
    status.HTTP_409_CONFLICT: {
        "model": ErrorOut,
        "description": "Administrators cannot deactivate themselves",
    },
}


def may_manage(manager_role: str, target_role: str) -> bool:
    """True if a user of ``manager_role`` may create or act on a user of ``target_role``."""
    try:
        return Role(target_role) in MANAGED_ROLES.get(Role(manager_role), frozenset())
    except ValueError:  # a role this code does not know: nobody manages it
        return False


def _require_manages(manager: User, target_role: str, what: str) -> None:
    """403 unless ``manager`` may act on (or create) a user of ``target_role``."""
    if not may_manage(manager.role, target_role):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"Supervisors manage agent and team users only: {what} is a {target_role}; "
            "ask an administrator",
        )


class UserOut(BaseModel):
    id: int
    name: str
    role: Role
    agent_id: int | None
    team_id: int | None
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            name=user.name,
            role=Role(user.role),
            agent_id=user.agent_id,
            team_id=user.team_id,
            active=user.active,
            created_at=user.created_at,
        )


class UserListItem(UserOut):
    live_tokens: int = Field(description="Tokens not revoked (expired ones included)")


class TokenOut(BaseModel):
    """A token as stored: never the token itself."""

    id: int
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        return cls(
            id=token.id,
            label=token.label,
            created_at=token.created_at,
            expires_at=token.expires_at,
            revoked_at=token.revoked_at,
        )


class IssuedToken(TokenOut):
    token: str = Field(description="Shown only now: send it as 'Authorization: Bearer <token>'")


class UserCreated(BaseModel):
    user: UserOut
    token: IssuedToken
    password: str | None = Field(
        None, description="Shown only now: the generated password (None unless generated)"
    )


# Printable text only: a NUL or control character has no place in a name or a label (and
# PostgreSQL refuses NUL in text).
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"


Name = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        # Something to show once trimmed, and nothing unprintable.
        pattern=r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$",
        description="Unique user name",
    ),
]
Label = Annotated[str, Field(max_length=100, pattern=PRINTABLE, description="Where it is used")]
Password = Annotated[
    str | None,
    Field(
        None,
        max_length=store_users.MAX_PASSWORD_LENGTH,
        description=f"A password to sign in to the pages: at least "
        f"{store_users.MIN_PASSWORD_LENGTH} characters, not the user name",
    ),
]


class _NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    token_label: Label = "initial"
    password: Password = None
    generate_password: bool = Field(
        False, description="True: generate a strong password, answered once (not with password)"
    )


class NewAgentUser(_NewUser):
    role: Literal[Role.AGENT]
    agent_id: int = Field(ge=1, le=MAX_ID, description="The agent this user logs in as")


class NewTeamUser(_NewUser):
    role: Literal[Role.TEAM]
    team_id: int = Field(ge=1, le=MAX_ID, description="The team or center they act for")


class NewStaffUser(_NewUser):
    role: Literal[Role.SUPERVISOR, Role.ADMIN]


# Which role needs what is in the schema: an agent user names their agent, a team user
# their team, and the others neither.
UserIn = Annotated[NewAgentUser | NewTeamUser | NewStaffUser, Body(discriminator="role")]


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: Password = None


class PasswordSet(BaseModel):
    user: UserOut
    password: str | None = Field(
        description="Shown only now: the generated password (None when one was given)"
    )
    sessions_ended: bool = Field(description="The user's web sessions were ended")


def _check_password(password: str | None, name: str) -> None:
    if password is None:
        return
    try:
        store_users.validate_password(password, name)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: Label = ""


@router.get("", summary="List users, by name")
async def list_users(_manager: Manager, services: ServicesDep) -> list[UserListItem]:
    """Every user, whoever manages: a supervisor sees the staff too, to act on none."""
    rows = await store_users.list_users(services.db)
    return [UserListItem(**UserOut.of(u).model_dump(), live_tokens=n) for u, n in rows]


@router.post(
    "",
    summary="Create a user and issue their first token",
    status_code=status.HTTP_201_CREATED,
    responses=CREATE_RESPONSES,
)
async def create_user(
    manager: Manager, services: ServicesDep, policy: Policy, body: UserIn
) -> UserCreated:
    name = body.name.strip()
    _require_manages(manager, body.role.value, f"the new user {name!r}")
    if body.password is not None and body.generate_password:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "Give a password or ask for a generated one, not both",
        )
    _check_password(body.password, name)
    if await store_users.get_user_by_name(services.db, name) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"A user named {name!r} already exists")
    agent_id = body.agent_id if isinstance(body, NewAgentUser) else None
    team_id = body.team_id if isinstance(body, NewTeamUser) else None
    try:
        user, _ = await store_users.create_user(
            services.db,
            name=name,
            role=body.role.value,
            agent_id=agent_id,
            team_id=team_id,
            lifetimes=policy.lifetimes,
        )
    except ValueError as exc:
        if "already exists" in str(exc):  # lost a race with another request
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
        # The schema rules out the rest: the agent or team named does not exist.
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    # The first token from create_user is for the CLI's one-shot output; revoke it and
    # issue the one answered here, so its row (id, expiry) can be shown with it.
    await store_users.revoke_tokens(services.db, user.id)
    token, row = await store_users.issue_token_row(
        services.db, user.id, body.token_label, policy.lifetimes
    )
    generated = store_users.generate_password() if body.generate_password else None
    password = body.password if body.password is not None else generated
    if password is not None:
        await store_users.set_password(services.db, user.id, password)
    return UserCreated(
        user=UserOut.of(user),
        token=IssuedToken(**TokenOut.of(row).model_dump(), token=token),
        password=generated,
    )


async def _user(services: ServicesDep, user_id: int) -> User:
    user = await store_users.get_user(services.db, user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"User {user_id} not found")
    return user


async def _managed(manager: User, services: ServicesDep, user_id: int) -> User:
    """The user ``manager`` acts on: 404 if there is none, 403 if it is not theirs to manage.

    A user's role never changes once created, so checking it before acting is safe."""
    user = await _user(services, user_id)
    _require_manages(manager, user.role, f"user {user.name!r}")
    return user


@router.get("/{user_id}", summary="One user", responses=NOT_FOUND)
async def get_user(_manager: Manager, services: ServicesDep, user_id: UserId) -> UserOut:
    return UserOut.of(await _user(services, user_id))


@router.post(
    "/{user_id}/deactivate",
    summary="Deactivate a user: their tokens stop working at once",
    responses=DEACTIVATE_RESPONSES,
)
async def deactivate_user(manager: Manager, services: ServicesDep, user_id: UserId) -> UserOut:
    await _managed(manager, services, user_id)  # a supervisor is staff: 403 for themself
    if user_id == manager.id:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            "You cannot deactivate yourself: ask another administrator, or use "
            "'hotline1022 users deactivate'",
        )
    user = await store_users.set_active(services.db, user_id, False)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"User {user_id} not found")
    return UserOut.of(user)


@router.post(
    "/{user_id}/reactivate",
    summary="Reactivate a user: their unexpired, unrevoked tokens work again",
    responses=NOT_FOUND,
)
async def reactivate_user(manager: Manager, services: ServicesDep, user_id: UserId) -> UserOut:
    await _managed(manager, services, user_id)
    user = await store_users.set_active(services.db, user_id, True)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"User {user_id} not found")
    return UserOut.of(user)


@router.post(
    "/{user_id}/password",
    summary="Set or reset a user's password (ends their web sessions)",
    responses=NOT_FOUND,
)
async def set_password(
    manager: Manager, services: ServicesDep, user_id: UserId, body: PasswordIn
) -> PasswordSet:
    """With no ``password`` a strong one is generated and shown only in this answer. The
    user's web sessions end (they sign in again with the new password); their bearer tokens
    for scripts go on working, as with ``hotline1022 users set-password``."""
    user = await _managed(manager, services, user_id)
    _check_password(body.password, user.name)
    generated = store_users.generate_password() if body.password is None else None
    try:
        user = await store_users.set_password(
            services.db, user_id, body.password or generated or ""
        )
    except ValueError as exc:  # deleted meanwhile
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    log.info(
        "password of user %s %s by %s; their web sessions ended",
        user.name,
        "generated" if generated else "set",
        manager.name,
    )
    return PasswordSet(user=UserOut.of(user), password=generated, sessions_ended=True)


@router.get(
    "/{user_id}/tokens",
    summary="A user's tokens, newest first (never the token)",
    responses=NOT_FOUND,
)
async def list_tokens(manager: Manager, services: ServicesDep, user_id: UserId) -> list[TokenOut]:
    await _managed(manager, services, user_id)
    return [TokenOut.of(t) for t in await store_users.list_tokens(services.db, user_id)]


@router.post(
    "/{user_id}/tokens",
    summary="Issue another token for a user (shown only in this answer)",
    status_code=status.HTTP_201_CREATED,
    responses=NOT_FOUND,
)
async def issue_token(
    manager: Manager, services: ServicesDep, policy: Policy, user_id: UserId, body: TokenIn
) -> IssuedToken:
    await _managed(manager, services, user_id)
    try:
        token, row = await store_users.issue_token_row(
            services.db, user_id, body.label, policy.lifetimes
        )
    except ValueError:  # deleted meanwhile
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"User {user_id} not found") from None
    return IssuedToken(**TokenOut.of(row).model_dump(), token=token)


@router.post(
    "/{user_id}/tokens/{token_id}/revoke",
    summary="Revoke one token; the user's others go on working",
    responses={
        **NOT_FOUND,
        status.HTTP_409_CONFLICT: {
            "model": ErrorOut,
            "description": "It is the token this request is made with",
        },
    },
)
async def revoke_token(
    manager: Manager,
    services: ServicesDep,
    user_id: UserId,
    token_id: TokenId,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> TokenOut:
    """Revoking a revoked token changes nothing and answers as the first time did. The
    token this request is made with cannot be revoked here (an administrator would lock
    themself out): use another, or ``hotline1022 users revoke``."""
    await _managed(manager, services, user_id)
    in_use = hash_token(credentials.credentials) if credentials is not None else ""
    tokens = await store_users.list_tokens(services.db, user_id)
    if any(t.id == token_id and t.token_hash == in_use for t in tokens):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            "This is the token you are using: revoke it with another, or with "
            "'hotline1022 users revoke'",
        )
    row = await store_users.revoke_token(services.db, user_id, token_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"User {user_id} has no token {token_id}")
    return TokenOut.of(row)
