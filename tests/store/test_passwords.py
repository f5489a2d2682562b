"""Passwords: Argon2id hashes, the rules for a new one, verification that answers alike for
every kind of failure, rehash when the parameters changed, sessions ended on a change."""

from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher
from sqlalchemy import update

from store.db import Database
from store.models import User
from store.users import (
    WEB_SESSION_LABEL,
    check_token,
    create_user,
    generate_password,
    get_user,
    has_password,
    issue_token,
    revoke_session,
    set_active,
    set_password,
    validate_password,
    verify_password,
)

GOOD = "ngựa-vằn-42-xanh"


async def test_a_password_is_stored_as_argon2id_and_verifies(db: Database) -> None:
    user, _ = await create_user(db, name="Lan", role="supervisor")
    assert not await has_password(db)
    await set_password(db, user.id, GOOD)
    stored = await get_user(db, user.id)
    assert stored is not None and stored.password_hash is not None
    assert stored.password_hash.startswith("$argon2id$")
    assert GOOD not in stored.password_hash
    assert await has_password(db)
    found = await verify_password(db, "Lan", GOOD)
    assert found is not None and found.id == user.id
    # The name is matched as typed, with spaces around it ignored.
    assert await verify_password(db, "  Lan ", GOOD) is not None


@pytest.mark.parametrize(
    ("password", "words"),
    [
        ("short", "too short: at least 10 characters (it has 5)"),
        ("x" * 257, "too long: at most 256"),
        (" " * 12, "only spaces"),
        ("Lan Nguyen", "must not be the user name"),
    ],
)
def test_a_new_password_must_pass_the_rules(password: str, words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        validate_password(password, name="lan nguyen")


async def test_set_password_refuses_a_bad_one_and_keeps_the_old(db: Database) -> None:
    user, _ = await create_user(db, name="Lan", role="supervisor")
    await set_password(db, user.id, GOOD)
    with pytest.raises(ValueError, match="too short"):
        await set_password(db, user.id, "123")
    assert await verify_password(db, "Lan", GOOD) is not None
    with pytest.raises(ValueError, match="unknown user id"):
        await set_password(db, user.id + 1000, GOOD)


async def test_every_failure_answers_none(db: Database) -> None:
    user, _ = await create_user(db, name="Lan", role="supervisor")
    await create_user(db, name="Không mật khẩu", role="supervisor")
    await set_password(db, user.id, GOOD)
    assert await verify_password(db, "Lan", GOOD + "x") is None  # wrong password
    assert await verify_password(db, "Ai đó", GOOD) is None  # unknown name
    assert await verify_password(db, "Không mật khẩu", GOOD) is None  # no password set
    assert await verify_password(db, "", GOOD) is None
    await set_active(db, user.id, False)
    assert await verify_password(db, "Lan", GOOD) is None  # inactive, right password
    await set_active(db, user.id, True)
    assert await verify_password(db, "Lan", GOOD) is not None


async def test_a_hash_with_old_parameters_is_replaced_at_sign_in(db: Database) -> None:
    user, _ = await create_user(db, name="Lan", role="supervisor")
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(GOOD)
    async with db.session() as session:
        await session.execute(update(User).where(User.id == user.id).values(password_hash=weak))
        await session.commit()
    assert await verify_password(db, "Lan", GOOD) is not None
    stored = await get_user(db, user.id)
    assert stored is not None and stored.password_hash not in (None, weak)
    assert not PasswordHasher().check_needs_rehash(stored.password_hash or "")
    assert await verify_password(db, "Lan", GOOD) is not None


async def test_a_new_password_ends_web_sessions_not_script_tokens(db: Database) -> None:
    user, first = await create_user(db, name="Lan", role="supervisor")
    session_token = await issue_token(db, user.id, WEB_SESSION_LABEL)
    await set_password(db, user.id, GOOD)
    assert (await check_token(db, session_token)).user is None
    assert (await check_token(db, first)).user is not None


async def test_revoke_session_ends_that_token_only(db: Database) -> None:
    user, first = await create_user(db, name="Lan", role="supervisor")
    session_token = await issue_token(db, user.id, WEB_SESSION_LABEL)
    checked = await check_token(db, session_token)
    assert checked.user is not None and checked.ends_at is not None
    assert await revoke_session(db, session_token)
    assert not await revoke_session(db, session_token)  # already revoked
    assert not await revoke_session(db, "no-such-token")
    assert (await check_token(db, session_token)).user is None
    assert (await check_token(db, first)).user is not None


def test_generated_passwords_pass_the_rules_and_differ() -> None:
    made = {generate_password() for _ in range(50)}
    assert len(made) == 50
    for password in made:
        validate_password(password)
        assert len(password) == 16 and password.isalnum()
