"""Security headers and settings: the Content-Security-Policy with a nonce on the one inline
script, cookies, static files, and `check --deploy` clean under the production settings."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import URLResolver, get_resolver

from keystage.web.links import reverse
from tests.app.conftest import STRONG_PASSWORD

STATIC = Path(__file__).resolve().parents[2] / "src" / "keystage" / "web" / "static"


def _csp(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {
        part.split(" ", 1)[0]: part.split(" ", 1)[1] if " " in part else ""
        for part in (p.strip() for p in header.split(";"))
        if part
    }


@pytest.mark.django_db
def test_every_page_has_a_strict_content_security_policy(client):
    response = client.get(reverse("sign-in"))
    policy = _csp(response)
    assert policy["default-src"] == "'self'"
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    [nonce] = re.fullmatch(r"'self' 'nonce-([^']+)'", policy["script-src"]).groups()
    # Every script is a file of ours or carries this response's nonce.
    scripts = re.findall(r"<script([^>]*)>", response.content.decode())
    assert scripts
    for attributes in scripts:
        assert 'src="/static/' in attributes or f'nonce="{nonce}"' in attributes, attributes


@pytest.mark.django_db
def test_nonces_differ_between_responses(client):
    first = _csp(client.get(reverse("sign-in")))["script-src"]
    assert first != _csp(client.get(reverse("sign-in")))["script-src"]


@pytest.mark.django_db
def test_redirects_and_lockouts_carry_the_policy_too(client, members):
    assert "Content-Security-Policy" in client.get(reverse("home"))  # a redirect to sign-in
    for _ in range(5):
        locked = client.post(reverse("sign-in"), {"username": "school938", "password": "x"})
    assert locked.status_code == 429 and "Content-Security-Policy" in locked


@pytest.mark.django_db
def test_security_headers_and_cookies(client, members):
    response = client.post(
        reverse("sign-in"), {"username": "school938", "password": STRONG_PASSWORD}
    )
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    session = response.cookies["sessionid"]
    assert session["httponly"] and session["samesite"] == "Lax"
    assert int(session["max-age"]) <= 8 * 60 * 60


def test_static_files_are_served_from_the_static_folder(client):
    response = client.get("/static/keystage/init.js")
    assert response.status_code == 200
    assert b"initAll" in b"".join(response.streaming_content)


def test_govuk_frontend_assets_are_built_by_setup(client):
    css = STATIC / "govuk" / "govuk-frontend.min.css"
    assert css.exists(), "GOV.UK Frontend assets are missing: run scripts/setup"
    assert "url(/assets/" not in css.read_text()  # fonts and images are found beside the CSS
    for name in ("govuk-frontend.min.css", "govuk-frontend.min.js", "assets/manifest.json"):
        assert client.get(f"/static/govuk/{name}").status_code == 200, name
    fonts = list((STATIC / "govuk" / "assets" / "fonts").iterdir())
    assert fonts and client.get(f"/static/govuk/assets/fonts/{fonts[0].name}").status_code == 200


ADMIN_ONLY_PAGES = {"users", "user-create"}


def _pages_without_arguments(patterns):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _pages_without_arguments(pattern.url_patterns)
        elif pattern.name and not pattern.pattern.regex.groups:
            yield pattern.name


@pytest.mark.django_db
def test_every_page_answers_every_role_without_error(members, client):
    """Walk every page without arguments as every role (and signed out): no page fails, and
    an admin who has not passed two-factor sign-in reaches none but the sign-in pages."""
    from tests.app.conftest import verify_two_factor

    names = sorted(_pages_without_arguments(get_resolver().url_patterns))
    assert {"home", "sign-in", "sign-out", "two-factor-setup", "two-factor-verify"} <= set(names)
    for who in [None, *members]:
        client.logout()
        if who:
            client.force_login(members[who], backend="django.contrib.auth.backends.ModelBackend")
        for name in names:
            response = client.get(reverse(name))
            # Pages for admins only refuse other roles (403); nothing fails.
            allowed = (200, 302, 403) if name in ADMIN_ONLY_PAGES else (200, 302)
            assert response.status_code in allowed, (who, name, response.status_code)
        if who in ("national", "admin938", "admin202"):
            assert client.get(reverse("home"))["Location"].startswith("/two-factor/")
            verify_two_factor(client, members[who])
            assert client.get(reverse("home")).status_code == 200


def test_check_deploy_is_clean_under_production_settings(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "keystage.web.settings_production",
        "KEYSTAGE_SECRET_KEY": secrets.token_urlsafe(50),
        "KEYSTAGE_ALLOWED_HOSTS": "keystage.example.org",
        "KEYSTAGE_DATA_DIR": str(tmp_path),
    }
    env.pop("KEYSTAGE_DEBUG", None)
    run = subprocess.run(
        [sys.executable, "-m", "keystage.manage", "check", "--deploy", "--fail-level", "DEBUG"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "System check identified no issues" in run.stdout
    assert not (tmp_path / "secret_key").exists()  # production never generates its key


def test_production_settings_refuse_to_start_without_a_secret_key(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "keystage.web.settings_production",
        "KEYSTAGE_ALLOWED_HOSTS": "keystage.example.org",
        "KEYSTAGE_DATA_DIR": str(tmp_path),
    }
    env.pop("KEYSTAGE_SECRET_KEY", None)
    run = subprocess.run(
        [sys.executable, "-m", "keystage.manage", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0
    assert "KEYSTAGE_SECRET_KEY must be set" in run.stderr
