"""Page plumbing: templates, the logged-in user, CSRF, security headers, redirects."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from countersignal.auth import Principal, User
from countersignal.errors import Unauthorized
from countersignal.web import sessions
from countersignal.web.models import WebSession

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")  # autoescapes .html

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "media-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class LoginRequired(Exception):
    """Raised by page handlers; turned into a redirect to the login page."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


@dataclass
class Viewer:
    principal: Principal
    user: User
    web_session: WebSession

    @property
    def csrf_token(self) -> str:
        return self.web_session.csrf_token


def viewer(request: Request, session: Session) -> Viewer:
    """The logged-in reviewer, or LoginRequired."""
    try:
        principal, row, user = sessions.resolve(session, request.cookies.get(sessions.COOKIE))
    except Unauthorized:
        raise LoginRequired(request.url.path) from None
    session.commit()  # keeps last_seen_at (idle expiry) current
    return Viewer(principal, user, row)


def secure(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def render(request: Request, name: str, who: Viewer | None, status: int = 200, **context):
    context.update(
        user=who.user if who else None,
        csrf_token=who.csrf_token if who else None,
        flash=request.query_params.get("flash"),
        flash_kind=request.query_params.get("kind"),
    )
    return secure(templates.TemplateResponse(request, name, context, status_code=status))


def redirect(url: str, flash: str | None = None, kind: str = "ok") -> RedirectResponse:
    if flash:
        url += ("&" if "?" in url else "?") + f"flash={quote(flash)}&kind={kind}"
    return secure(RedirectResponse(url, status_code=303))


def safe_next(value: str | None) -> str:
    """Only same-site paths under /ui/ (no open redirects)."""
    if value and value.startswith("/ui/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/ui/"


def login_redirect(exc: LoginRequired) -> Response:
    return redirect(f"/ui/login?next={quote(safe_next(exc.next_url))}")


def html_error(request: Request, who: Viewer | None, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", who, status=status, message=message)
