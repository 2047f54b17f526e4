"""Who may do what: the ``full`` and ``demo`` modes, the admin role, sign-in limits and quotas.

``NLPLAB_MODE=full`` (the default, a local run) allows everything without a login. In
``demo`` mode a visitor may ask, compare, rate, classify, estimate and look; every action in
:data:`ACTIONS` (build or delete knowledge bases, upload files, train, evaluate, measure,
delete adapters, export feedback) needs the admin role. The page builds an :class:`Actor`
(from the mode and the session's sign-in, see ``app_pages/_access.py``) and passes it to the core
entry points, which call :func:`require` and raise :class:`PermissionDenied` otherwise. A core
call made without an actor is judged by the process (:func:`process_actor`): the command line
acts as the operator (admin); any other process follows ``NLPLAB_MODE``, so in demo mode a
forgotten ``actor=`` is refused, never waved through.

Admin sign-in is either Streamlit's ``st.login`` (OIDC, configured in ``secrets.toml``; the
page checks the e-mail against ``NLPLAB_ADMIN_EMAILS`` with :func:`oidc_admin`) or the
password ``NLPLAB_ADMIN_PASSWORD``, compared in constant time (:func:`password_ok`) and
rate-limited per session and per server (:class:`AttemptLimiter`). A successful sign-in is a
random token kept in this process (:class:`AdminSessions`), so nothing a browser sends can
forge it. No Streamlit here.

Example:
    >>> visitor = Actor("visitor", mode="demo", session="s1")
    >>> visitor.can("export"), OPERATOR.can("export")
    (False, True)
    >>> require(OPERATOR, "export").role
    'admin'
"""

from __future__ import annotations

import hmac
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from core.errors import UserError

MODES = ("full", "demo")
ROLES = ("admin", "visitor")

#: Every action that needs the admin role in demo mode, with the words a refusal uses.
ACTIONS: dict[str, str] = {
    "build": "Creating or adding to a knowledge base",
    "delete": "Deleting knowledge bases, documents, adapters or saved evaluation runs",
    "upload": "Uploading files",
    "train": "Training (fine-tuning, learning from feedback, emotion models)",
    "evaluate": "Running evaluations",
    "measure": "Measuring memory in a model process",
    "export": "Exporting stored feedback",
}


class PermissionDenied(UserError):
    """The actor may not do this (a visitor on a demo server)."""


class QuotaExceeded(UserError):
    """A demo limit was hit (questions per minute, one training job per server)."""


@dataclass(frozen=True)
class Actor:
    """Who is calling: ``role`` admin or visitor, the server's ``mode``, the ``session`` id."""

    role: str
    mode: str = "full"
    session: str = ""

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {self.role!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def limited(self) -> bool:
        """Quotas apply (demo mode), whatever the role."""
        return self.mode == "demo"

    def can(self, action: str) -> bool:
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}; declare it in core.access.ACTIONS")
        return self.is_admin


#: The command line and other operator tools: admin, no quotas.
OPERATOR = Actor("admin", mode="full", session="operator")
_process_actor: Actor | None = None


def actor_for(mode: str, *, session: str, admin: bool) -> Actor:
    """The actor of a browser session: everyone is admin in ``full`` mode.

    Example: ``actor_for("demo", session="s1", admin=False).role == "visitor"``.
    """
    return Actor("admin" if mode == "full" or admin else "visitor", mode=mode, session=session)


def act_as_operator() -> None:
    """Make core calls of this process that pass no actor run as :data:`OPERATOR` (the CLI)."""
    global _process_actor
    _process_actor = OPERATOR


def process_actor() -> Actor:
    """The actor of a call that passed none: the operator in the CLI, else by ``NLPLAB_MODE``.

    In demo mode that is an anonymous visitor: a page that forgot to pass its actor is refused.
    """
    if _process_actor is not None:
        return _process_actor
    from core.settings import load_settings

    mode = load_settings().mode
    return Actor("admin" if mode == "full" else "visitor", mode=mode, session="")


def require(actor: Actor | None, action: str) -> Actor:
    """Raise :class:`PermissionDenied` unless ``actor`` (None: :func:`process_actor`) may act."""
    who = process_actor() if actor is None else actor
    if not who.can(action):
        raise PermissionDenied(f"{ACTIONS[action]} needs the admin role on this demo: "
                               "sign in as admin from the sidebar.")
    return who


def password_ok(given: str, expected: str) -> bool:
    """Constant-time comparison (``hmac.compare_digest`` on UTF-8 bytes); an unset password
    (``""``) never matches, so password sign-in is off until one is configured."""
    if not expected:
        return False
    def raw(text: str) -> bytes:  # a lone surrogate (hostile input) must not raise
        return text.encode("utf-8", "surrogatepass")
    return hmac.compare_digest(raw(given), raw(expected))


def oidc_admin(email: str | None, admin_emails: str) -> bool:
    """Is this OIDC-signed-in ``email`` an admin? ``admin_emails``: comma-separated, any case.

    An empty list admits nobody: a public identity provider (Google, GitHub) would otherwise
    make every visitor with an account an admin.
    Example: ``oidc_admin("Ada@Lab.org", "ada@lab.org, bob@lab.org")`` is True.
    """
    allowed = {e.strip().lower() for e in admin_emails.split(",") if e.strip()}
    return bool(email) and email.strip().lower() in allowed


class AttemptLimiter:
    """Failed sign-ins: at most ``per_session`` per session and ``per_server`` in all within
    ``window`` seconds, and after ``n`` failures a session waits ``2**(n-1)`` s (capped at
    ``max_backoff``) before the next try. :meth:`check` raises QuotaExceeded while blocked.

    Example (clock frozen): failures at t=0 and t=0 -> the next try is allowed from t=2.
    """

    def __init__(self, per_session: int = 5, per_server: int = 50, window: float = 300.0,
                 max_backoff: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.per_session, self.per_server, self.window = per_session, per_server, window
        self.max_backoff, self.clock = max_backoff, clock
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()

    def _prune(self, q: deque[float], now: float) -> None:
        while q and q[0] <= now - self.window:
            q.popleft()

    def wait_seconds(self, session: str) -> float:
        """Seconds until ``session`` may try again (0 = now)."""
        now = self.clock()
        with self._lock:
            q = self._failures.get(session, deque())
            self._prune(q, now)
            self._prune(self._all, now)
            waits = [0.0]
            if len(q) >= self.per_session:
                waits.append(q[0] + self.window - now)
            elif q:
                waits.append(q[-1] + min(2.0 ** (len(q) - 1), self.max_backoff) - now)
            if len(self._all) >= self.per_server:
                waits.append(self._all[0] + self.window - now)
            return max(waits)

    def check(self, session: str) -> None:
        if (wait := self.wait_seconds(session)) > 0:
            raise QuotaExceeded(f"Too many sign-in attempts: try again in {math.ceil(wait)} s.")

    def failed(self, session: str) -> None:
        now = self.clock()
        with self._lock:
            self._failures.setdefault(session, deque()).append(now)
            self._all.append(now)

    def succeeded(self, session: str) -> None:
        with self._lock:
            self._failures.pop(session, None)


class AdminSessions:
    """Admin grants of this server process: a random token per sign-in, valid ``ttl`` seconds.

    The page keeps the token in its session state; :meth:`valid` is the only proof of admin.
    """

    def __init__(self, ttl: float = 8 * 3600, clock: Callable[[], float] = time.monotonic):
        self.ttl, self.clock = ttl, clock
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}

    def grant(self) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = self.clock() + self.ttl
        return token

    def valid(self, token: object) -> bool:
        if not isinstance(token, str):
            return False
        with self._lock:
            expires = self._tokens.get(token)
            if expires is not None and expires <= self.clock():
                del self._tokens[token]
                expires = None
        return expires is not None

    def revoke(self, token: object) -> None:
        with self._lock:
            self._tokens.pop(token, None) if isinstance(token, str) else None


def sign_in(password: str, *, expected: str, session: str, limiter: AttemptLimiter,
            grants: AdminSessions) -> str:
    """Check ``password`` for ``session``; returns an admin token or raises a UserError.

    A blocked session is refused BEFORE the password is compared, so guessing stays slow.
    """
    if not expected:
        raise PermissionDenied("Password sign-in is off: NLPLAB_ADMIN_PASSWORD is not set.")
    limiter.check(session)
    if not password_ok(password, expected):
        limiter.failed(session)
        raise PermissionDenied("Wrong password.")
    limiter.succeeded(session)
    return grants.grant()


class RateLimit:
    """At most ``limit`` events per ``window`` seconds per key (a sliding window).

    Example: limit 2 per 60 s; takes at t=0, 1 pass, t=2 raises, t=60.5 passes again.
    """

    def __init__(self, limit: int, window: float = 60.0, what: str = "questions",
                 clock: Callable[[], float] = time.monotonic):
        self.limit, self.window, self.what, self.clock = limit, window, what, clock
        self._lock = threading.Lock()
        self._events: dict[str, deque[float]] = {}

    def take(self, key: str) -> None:
        now = self.clock()
        with self._lock:
            q = self._events.setdefault(key, deque())
            while q and q[0] <= now - self.window:
                q.popleft()
            if len(q) >= self.limit:
                wait = math.ceil(q[0] + self.window - now)
                raise QuotaExceeded(f"This demo allows {self.limit} {self.what} per minute "
                                    f"per visitor: try again in {wait} s.")
            q.append(now)


#: Process-wide state shared by every session of the server.
ATTEMPTS = AttemptLimiter()
ADMINS = AdminSessions()
_question_limits: dict[int, RateLimit] = {}


def take_question(actor: Actor, per_minute: int) -> None:
    """Count one question of a demo visitor's session against the quota (admins: free)."""
    if not actor.limited or actor.is_admin:
        return
    limiter = _question_limits.setdefault(per_minute, RateLimit(per_minute))
    limiter.take(actor.session or "anonymous")
