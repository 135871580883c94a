"""The review UI's pages. Each handler calls the same service functions as the API."""

from __future__ import annotations

import contextlib
import io
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, Response
from PIL import ImageFilter, ImageOps
from sqlalchemy.orm import Session

from countersignal.actions import webhooks
from countersignal.actions.crypto import LOGIN_CSRF, Keyring
from countersignal.actions.vault import Vault, read_entry
from countersignal.api.deps import api_state, get_session
from countersignal.cases import appeals, orders, service
from countersignal.cases.models import ACTIONS, GROUND_TYPES, ORDER_REASONS
from countersignal.db import utcnow
from countersignal.errors import CountersignalError, InvalidInput, NotFound, Unauthorized
from countersignal.signals.pdq import open_image
from countersignal.web import sessions
from countersignal.web.pages import (
    HERE,
    LoginRequired,
    Viewer,
    html_error,
    login_redirect,
    redirect,
    render,
    safe_next,
    secure,
    viewer,
)

router = APIRouter(prefix="/ui", include_in_schema=False)
SessionDep = Annotated[Session, Depends(get_session)]
STATIC_FILES = {"app.css": "text/css", "app.js": "text/javascript"}
ACTION_KEYS = {"remove": "r", "restrict": "t", "label": "l", "leave_up": "u", "escalate": "e"}
PREVIEW_PIXELS = 480
# Shown inline to a reviewer who chose to reveal them: raster images and videos only. The type
# is the uploader's claim, so anything else (SVG and HTML can carry script) is a download.
INLINE_MEDIA_TYPES = frozenset({
    "image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/tiff",
    "video/mp4", "video/webm", "video/ogg", "video/quicktime", "video/x-matroska",
})


def page(handler):
    """Turn LoginRequired into a redirect and service errors into an HTML error page."""
    import functools

    @functools.wraps(handler)
    async def wrapper(request: Request, *args, **kwargs):
        try:
            return await handler(request, *args, **kwargs)
        except LoginRequired as exc:
            return login_redirect(exc)
        except FormRefused as exc:
            return redirect(exc.back, exc.message, "error")
        except CountersignalError as exc:
            return html_error(request, None, exc.http_status, exc.message)

    return wrapper


class FormRefused(Exception):
    """A form's change was refused: back to ``back`` with the reason shown."""

    def __init__(self, back: str, message: str) -> None:
        self.back, self.message = back, message


@contextlib.contextmanager
def form_change(session: Session, back: str):
    """Commit what the block changed, or roll it all back and return to ``back``."""
    try:
        yield
        session.commit()
    except CountersignalError as exc:
        session.rollback()
        raise FormRefused(back, exc.message) from exc


def check_form(who: Viewer, csrf_token: str | None) -> None:
    sessions.check_csrf(who.web_session, csrf_token)


def vault_for(request: Request) -> Vault:
    return Vault.from_settings(api_state(request).runtime.settings)


@router.get("/static/{name}", name="web-static")
async def static(name: str) -> Response:
    if name not in STATIC_FILES:
        raise NotFound("no such file")
    return secure(FileResponse(HERE / "static" / name, media_type=STATIC_FILES[name]))


# --- login ---------------------------------------------------------------------------------


def _cookie_secure(request: Request) -> bool:
    return api_state(request).runtime.settings.web_secure_cookies or request.url.scheme == "https"


def _login_key(request: Request) -> bytes:
    return Keyring.from_settings(api_state(request).runtime.settings).subkey(LOGIN_CSRF)


def login_form(request: Request, status: int = 200, **context) -> Response:
    """The login page with a fresh CSRF token, its nonce set in a cookie of the login path."""
    nonce, token = sessions.issue_login_token(_login_key(request))
    response = render(request, "login.html", None, status=status, login_token=token, **context)
    _set_cookie(response, request, sessions.LOGIN_COOKIE, nonce, sessions.LOGIN_FORM_TTL,
                sessions.LOGIN_COOKIE_PATH)
    return response


def _set_cookie(response: Response, request: Request, name: str, value: str, lifetime,
                path: str) -> None:
    """Every UI cookie: HttpOnly, SameSite=Strict, Secure unless configured off on http."""
    response.set_cookie(name, value, httponly=True, samesite="strict",
                        secure=_cookie_secure(request),
                        max_age=int(lifetime.total_seconds()), path=path)


@router.get("/login")
async def login_page(request: Request, next: str | None = None):
    return login_form(request, next=safe_next(next))


@router.post("/login")
async def login(
    request: Request,
    session: SessionDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=500)] = "/ui/",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
):
    state = api_state(request)
    client = request.client.host if request.client else "unknown"
    try:  # before the password is even looked at: a forged login logs nobody in
        sessions.check_login_token(
            _login_key(request), request.cookies.get(sessions.LOGIN_COOKIE), csrf_token
        )
    except CountersignalError as exc:
        return login_form(request, status=exc.http_status, error=exc.message, next=safe_next(next))
    try:
        state.auth_failures.peek(client)
        cookie, _user = sessions.login(session, email, password)
        session.commit()
    except Unauthorized as exc:
        session.rollback()
        with contextlib.suppress(CountersignalError):
            state.auth_failures.take(client)
        return login_form(request, status=401, error=exc.message, next=safe_next(next))
    except CountersignalError as exc:
        return login_form(request, status=exc.http_status, error=exc.message, next=safe_next(next))
    response = redirect(safe_next(next))
    _set_cookie(response, request, sessions.COOKIE, cookie, sessions.ABSOLUTE, "/ui")
    response.delete_cookie(  # its nonce is spent; same attributes, or a browser may keep it
        sessions.LOGIN_COOKIE,
        path=sessions.LOGIN_COOKIE_PATH,
        secure=_cookie_secure(request),
        httponly=True,
        samesite="strict",
    )
    return response


@router.post("/logout")
@page
async def logout(request: Request, session: SessionDep, csrf_token: Annotated[str, Form()] = ""):
    who = viewer(request, session)
    check_form(who, csrf_token)
    sessions.logout(session, request.cookies.get(sessions.COOKIE))
    session.commit()
    response = redirect("/ui/login")
    response.delete_cookie(sessions.COOKIE, path="/ui")
    return response


# --- queue and cases -----------------------------------------------------------------------


@router.get("/")
@page
async def queue(request: Request, session: SessionDep):
    who = viewer(request, session)
    cases = service.list_queue(session, who.principal, limit=200)
    return render(request, "queue.html", who, cases=cases, now=utcnow())


@router.get("/cases/{case_id}")
@page
async def case_page(request: Request, session: SessionDep, case_id: str):
    who = viewer(request, session)
    detail = service.get_case(session, who.principal, case_id)
    open_appeals = [a for a in detail.appeals if a.status == "open"]
    me = service.actor_key(who.principal)
    return render(
        request,
        "case.html",
        who,
        detail=detail,
        case=detail.case,
        matches=detail.submission.matches if detail.submission else [],
        findings=detail.submission.findings if detail.submission else [],
        content_type=(detail.submission.content_type if detail.submission else "") or "",
        actions=[(a, ACTION_KEYS[a]) for a in ACTIONS],
        ground_types=GROUND_TYPES,
        pending=[d for d in detail.decisions if d.status == "pending"],
        me=me,
        open_appeals=open_appeals,
        can_decide=detail.case.status in ("open", "escalated"),
    )


def _case_content(request: Request, session: Session, who: Viewer, case_id: str, reason: str):
    detail = service.get_case(session, who.principal, case_id)
    if not detail.case.vault_entry_id:
        raise NotFound("this case has no preserved content")
    preserved = read_entry(
        session, who.principal, vault_for(request), detail.case.vault_entry_id, reason=reason
    )
    session.commit()  # the audited read commits with the content leaving
    if preserved.content is None:
        raise NotFound("only metadata was preserved for this case")
    return preserved.content, preserved.entry.content_type or "application/octet-stream"


@router.get("/cases/{case_id}/preview")
@page
async def case_preview(request: Request, session: SessionDep, case_id: str):
    """A small, blurred, greyscale rendition: the real pixels only leave on reveal."""
    who = viewer(request, session)
    content, _type = _case_content(
        request, session, who, case_id, f"case review {case_id}: blurred preview"
    )
    try:
        img = open_image(content)  # the hashing path's hostile-input checks
        img.thumbnail((PREVIEW_PIXELS, PREVIEW_PIXELS))
        blurred = ImageOps.grayscale(img).filter(ImageFilter.GaussianBlur(radius=18))
    except (InvalidInput, ValueError):
        raise NotFound("no preview for this content type") from None
    out = io.BytesIO()
    blurred.save(out, format="PNG")
    return secure(Response(out.getvalue(), media_type="image/png"))


@router.get("/cases/{case_id}/content")
@page
async def case_content(request: Request, session: SessionDep, case_id: str):
    """The content itself, after the reviewer chose to reveal it (an audited vault read)."""
    who = viewer(request, session)
    content, media_type = _case_content(
        request, session, who, case_id, f"case review {case_id}: reviewer revealed content"
    )
    essence = media_type.split(";", 1)[0].strip().lower()
    inline = essence in INLINE_MEDIA_TYPES
    response = Response(content, media_type=essence if inline else "application/octet-stream")
    response.headers["Content-Disposition"] = (
        "inline" if inline else f'attachment; filename="{case_id}.bin"'
    )
    return secure(response)


@router.post("/cases/{case_id}/decide")
@page
async def decide(
    request: Request,
    session: SessionDep,
    case_id: str,
    action: Annotated[str, Form()],
    ground_type: Annotated[str, Form()],
    ground: Annotated[str, Form(max_length=2000)],
    explanation: Annotated[str, Form(max_length=10000)],
    territories: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Annotated[str, Form()] = "",
):
    who = viewer(request, session)
    check_form(who, csrf_token)
    with form_change(session, f"/ui/cases/{case_id}"):
        decision = service.decide(
            session,
            who.principal,
            case_id,
            action=action,
            ground_type=ground_type,
            ground=ground,
            explanation=explanation,
            territories=[t for t in territories.replace(" ", ",").split(",") if t],
            vault=vault_for(request),
        )
    if decision.status == "pending":
        return redirect(f"/ui/cases/{case_id}", "decision recorded; a second reviewer must confirm")
    return redirect("/ui/", f"case decided: {action.replace('_', ' ')}")


@router.post("/decisions/{decision_id}/confirm")
@page
async def confirm(
    request: Request,
    session: SessionDep,
    decision_id: str,
    case_id: Annotated[str, Form()],
    verdict: Annotated[str, Form()],
    reason: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Annotated[str, Form()] = "",
):
    who = viewer(request, session)
    check_form(who, csrf_token)
    with form_change(session, f"/ui/cases/{case_id}"):
        if verdict == "confirm":
            service.confirm_decision(session, who.principal, decision_id, vault=vault_for(request))
        else:
            service.reject_decision(session, who.principal, decision_id, reason=reason)
    return redirect(f"/ui/cases/{case_id}", f"decision {verdict}ed")


# --- appeals -------------------------------------------------------------------------------


@router.get("/appeals")
@page
async def appeals_page(request: Request, session: SessionDep):
    who = viewer(request, session)
    rows = appeals.list_appeals(session, who.principal, open_only=False, limit=200)
    return render(request, "appeals.html", who, appeals=rows, now=utcnow())


@router.post("/appeals/{appeal_id}/decide")
@page
async def decide_appeal(
    request: Request,
    session: SessionDep,
    appeal_id: str,
    case_id: Annotated[str, Form()],
    outcome: Annotated[str, Form()],
    explanation: Annotated[str, Form(max_length=10000)],
    csrf_token: Annotated[str, Form()] = "",
):
    who = viewer(request, session)
    check_form(who, csrf_token)
    with form_change(session, f"/ui/cases/{case_id}"):
        appeals.decide_appeal(
            session, who.principal, appeal_id, outcome=outcome, explanation=explanation
        )
    return redirect(f"/ui/cases/{case_id}", f"appeal {outcome}")


# --- removal orders, webhooks, reports -----------------------------------------------------


@router.get("/orders")
@page
async def orders_page(request: Request, session: SessionDep):
    who = viewer(request, session)
    now = utcnow()
    rows = [(o, orders.clock(o, now)) for o in orders.list_orders(session, who.principal)]
    return render(request, "orders.html", who, orders=rows, reasons=ORDER_REASONS, now=now)


@router.post("/orders/{order_id}/respond")
@page
async def respond_order(
    request: Request,
    session: SessionDep,
    order_id: str,
    outcome: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
    explanation: Annotated[str, Form(max_length=10000)] = "",
    csrf_token: Annotated[str, Form()] = "",
):
    who = viewer(request, session)
    check_form(who, csrf_token)
    with form_change(session, "/ui/orders"):
        orders.respond_to_order(
            session,
            who.principal,
            order_id,
            outcome=outcome,
            reason=reason or None,
            explanation=explanation,
        )
    return redirect("/ui/orders", "answer to the authority recorded")


@router.get("/webhooks")
@page
async def webhooks_page(request: Request, session: SessionDep):
    who = viewer(request, session)
    dead = webhooks.list_dead_letters(session, who.principal)
    return render(request, "webhooks.html", who, dead=dead)


@router.post("/webhooks/{message_id}/retry")
@page
async def retry_webhook(
    request: Request, session: SessionDep, message_id: str, csrf_token: Annotated[str, Form()] = ""
):
    who = viewer(request, session)
    check_form(who, csrf_token)
    webhooks.retry_dead_letter(session, who.principal, message_id)
    session.commit()
    return redirect("/ui/webhooks", "queued for another delivery")


@router.get("/reports")
@page
async def reports_page(
    request: Request, session: SessionDep, start: str | None = None, end: str | None = None
):
    from countersignal.reports.figures import compute_figures
    from countersignal.reports.render import to_html

    who = viewer(request, session)
    now = utcnow()
    begin = _date(start) or datetime(now.year, 1, 1, tzinfo=UTC)
    finish = _date(end) or now + timedelta(seconds=1)
    figures = compute_figures(session, who.principal, start=begin, end=finish)
    return secure(Response(to_html(figures), media_type="text/html"))


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        return None


@router.get("/partners")
@page
async def partners_page(request: Request, session: SessionDep):
    from countersignal.exchange.sync import partner_status

    who = viewer(request, session)
    rows = partner_status(session, who.principal.organisation_id)
    return render(request, "partners.html", who, partners=rows)


# --- responsible-reporting review ----------------------------------------------------------


@router.get("/review")
@page
async def review_page(request: Request, session: SessionDep):
    who = viewer(request, session)
    return render(request, "review.html", who, report=None, draft="")


@router.post("/review")
@page
async def review_draft(
    request: Request,
    session: SessionDep,
    draft: Annotated[str, Form(max_length=200_000)],
    csrf_token: Annotated[str, Form()] = "",
):
    """Advice for the author only: the draft is not stored and not sent anywhere."""
    from fastapi.concurrency import run_in_threadpool

    from countersignal.review import render_highlighted_html, review_article
    from countersignal.review.entities import config_for

    who = viewer(request, session)
    check_form(who, csrf_token)
    config = config_for(session, who.principal.organisation_id)
    report = await run_in_threadpool(review_article, draft, config=config)
    highlighted = render_highlighted_html(report.text, report.findings)
    return render(request, "review.html", who, report=report, draft=draft, highlighted=highlighted)
