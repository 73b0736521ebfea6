"""Library admins: ``S3ASSIST_ADMIN_USERS`` entries ("user:password"), checked in constant time.

Readers need no login; only uploads and deletes do. The API checks HTTP Basic credentials with
the :func:`require_admin` dependency (Gradio's own ``auth`` would protect only the Gradio routes
and lock readers out); the Library tab checks a small login form against the same list.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from s3assist.settings import Settings

_basic = HTTPBasic(auto_error=False, realm="S3 Assistant admin")
NO_ADMINS = (
    "no admin users are configured: set S3ASSIST_ADMIN_USERS to a JSON list of "
    '"user:password" entries'
)


def admin_table(settings: Settings) -> dict[str, str]:
    """User name -> password, from the settings' "user:password" entries."""
    table: dict[str, str] = {}
    for entry in settings.admin_users:
        user, sep, password = entry.get_secret_value().partition(":")
        if sep and user.strip() and password:
            table[user.strip()] = password
    return table


def check_admin(settings: Settings, user: str, password: str) -> bool:
    """True when ``user``/``password`` match an admin entry (constant-time comparison)."""
    expected = admin_table(settings).get(user.strip())
    # Compare against a dummy when the user is unknown, so timing does not reveal user names.
    ok = secrets.compare_digest((expected or "\0invalid").encode("utf-8"), password.encode("utf-8"))
    return ok and expected is not None


def require_admin(
    request: Request,
    credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
) -> str:
    """FastAPI dependency: the admin's user name, or 401 with a ``WWW-Authenticate`` challenge."""
    settings: Settings = request.app.state.services.settings
    challenge = {"WWW-Authenticate": 'Basic realm="S3 Assistant admin"'}
    if not admin_table(settings):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, NO_ADMINS, headers=challenge)
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "admin login required (HTTP Basic auth with an S3ASSIST_ADMIN_USERS entry)",
            headers=challenge,
        )
    if not check_admin(settings, credentials.username, credentials.password):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "wrong admin user name or password", headers=challenge
        )
    return credentials.username
