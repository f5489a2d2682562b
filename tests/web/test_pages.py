"""The pages without a browser: redirects, the 403 page, headers, static caching, ``next``."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from api.auth import csrf_token_for
from store.users import revoke_tokens
from tests.web.conftest import Site
from web.pages import safe_next
from web.security import CONTENT_SECURITY_POLICY
from web.session import SESSION_COOKIE

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def client(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=site.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline.test") as c:
        yield c


def as_role(client: httpx.AsyncClient, site: Site, role: str) -> httpx.AsyncClient:
    client.cookies.set(SESSION_COOKIE, site.tokens[role])
    return client


def test_the_csp_allows_only_the_service_itself() -> None:
    directives = dict(d.strip().split(" ", 1) for d in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY
    assert "http" not in CONTENT_SECURITY_POLICY


@pytest.mark.parametrize("path", ["/login", "/docs"])
async def test_every_page_has_the_security_headers(client: httpx.AsyncClient, path: str) -> None:
    resp = await client.get(path)
    assert resp.status_code == 200
    assert resp.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["referrer-policy"] == "same-origin"
    assert resp.headers["cache-control"] == "no-store"
    # No inline script or style, nothing from another origin.
    html = resp.text
    assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", html)
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)


async def test_the_api_answers_json_without_the_page_csp(client: httpx.AsyncClient) -> None:
    resp = await client.get("/health")
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in resp.headers


async def test_redoc_and_fastapi_docs_are_gone_and_docs_are_local(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/redoc")).status_code == 404
    html = (await client.get("/docs")).text
    assert "/static/vendor/swagger-ui-dist/swagger-ui-bundle.js?v=" in html
    assert "/static/js/docs-init.js?v=" in html
    assert 'data-openapi-url="/openapi.json"' in html
    assert "cdn" not in html.lower()


async def test_console_without_a_session_redirects_to_login(client: httpx.AsyncClient) -> None:
    resp = await client.get("/console")
    assert resp.status_code == 303
    assert resp.headers["location"] == "/login?next=/console"


async def test_console_with_a_revoked_session_redirects_to_login(
    client: httpx.AsyncClient, site: Site
) -> None:
    from sqlalchemy import select

    from store.models import User

    async with site.db.session() as session:
        user = await session.scalar(select(User).where(User.role == "agent"))
    assert user is not None
    await revoke_tokens(site.db, user.id)
    resp = await as_role(client, site, "agent").get("/console")
    assert resp.status_code == 303


async def test_console_for_another_role_is_a_vietnamese_403_page(
    client: httpx.AsyncClient, site: Site
) -> None:
    resp = await as_role(client, site, "supervisor").get("/console")
    assert resp.status_code == 403
    assert resp.headers["content-type"].startswith("text/html")
    assert "Không có quyền truy cập" in resp.text
    assert "Trần Văn Giám" in resp.text
    assert resp.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


async def test_console_for_an_agent_carries_its_csrf_token_and_agent(
    client: httpx.AsyncClient, site: Site
) -> None:
    resp = await as_role(client, site, "agent").get("/console")
    assert resp.status_code == 200
    token = csrf_token_for(site.tokens["agent"])
    assert f'<meta name="csrf-token" content="{token}">' in resp.text
    assert f'data-agent-id="{site.agent_id}"' in resp.text
    assert "Nguyễn Thị Lan" in resp.text


async def test_names_are_escaped(
    client: httpx.AsyncClient, site: Site, db_user_named: None
) -> None:
    resp = await as_role(client, site, "supervisor").get("/console")
    assert "<b>x</b>" not in resp.text
    assert "&lt;b&gt;x&lt;/b&gt;" in resp.text


@pytest.fixture
async def db_user_named(site: Site) -> None:
    from sqlalchemy import update

    from store.models import User

    async with site.db.session() as session:
        await session.execute(update(User).where(User.role == "supervisor").values(name="<b>x</b>"))
        await session.commit()


async def test_home_sends_each_role_to_its_page(client: httpx.AsyncClient, site: Site) -> None:
    assert (await client.get("/")).headers["location"] == "/login"
    assert (await as_role(client, site, "agent").get("/")).headers["location"] == "/console"
    assert (await as_role(client, site, "supervisor").get("/")).headers["location"] == "/wallboard"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/console", "/console"),
        ("/console?tab=calls#x", "/console?tab=calls#x"),
        ("//evil.example/console", None),
        ("/\\evil.example", None),
        ("https://evil.example/", None),
        ("javascript:alert(1)", None),
        ("console", None),
        ("/con\nsole", None),
        ("", None),
        (None, None),
    ],
)
def test_next_accepts_only_paths_of_this_site(value: str | None, expected: str | None) -> None:
    assert safe_next(value) == expected


async def test_login_page_keeps_only_a_safe_next(client: httpx.AsyncClient) -> None:
    good = await client.get("/login", params={"next": "/console"})
    assert 'data-next="/console"' in good.text
    bad = await client.get("/login", params={"next": "//evil.example/"})
    assert 'data-next=""' in bad.text


async def test_static_files_are_cached_for_good_only_at_their_current_hash(
    client: httpx.AsyncClient,
) -> None:
    html = (await client.get("/login")).text
    match = re.search(r'src="(/static/js/login\.js\?v=([0-9a-f]+))"', html)
    assert match is not None
    current = await client.get(match.group(1))
    assert current.status_code == 200
    assert current.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert current.headers["content-type"].startswith("text/javascript")
    stale = await client.get("/static/js/login.js?v=000000000000")
    assert stale.headers["cache-control"] == "no-cache"
    assert (await client.get("/static/../pages.py")).status_code == 404


def test_vendored_files_match_their_checksums() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "vendor.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_the_checksum_check_catches_a_changed_file(tmp_path: Path) -> None:
    # The same check over a copy with one byte changed must fail.
    import shutil

    vendor = ROOT / "web" / "static" / "vendor"
    copy = tmp_path / "vendor"
    shutil.copytree(vendor, copy)
    css = copy / "swagger-ui-dist" / "swagger-ui.css"
    css.write_bytes(css.read_bytes() + b" ")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "vendor.py"), "--check", "--dir", str(copy)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "swagger-ui.css" in done.stderr


def test_the_scripts_never_insert_html() -> None:
    """Text from callers and users goes in with textContent: no script of ours parses HTML
    or evaluates strings (the vendored Swagger UI is not ours and shows no caller data)."""
    scripts = sorted((ROOT / "web" / "static" / "js").glob("*.js"))
    assert scripts
    for script in scripts:
        code = script.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in code, f"{script.name} uses {sink}"
