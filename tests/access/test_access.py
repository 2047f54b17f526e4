"""core.access: roles, the admin check, sign-in limits, admin tokens, question quotas."""

from __future__ import annotations

import pytest

from core import access
from core.access import (
    ACTIONS,
    AdminSessions,
    AttemptLimiter,
    PermissionDenied,
    QuotaExceeded,
    RateLimit,
)
from core.errors import UserError
from core.settings import load_settings
from tests.access.conftest import ADMIN, VISITOR


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_a_demo_visitor_may_do_no_admin_action_and_an_admin_every_one(action):
    assert not VISITOR.can(action)
    assert ADMIN.can(action) and access.OPERATOR.can(action)
    with pytest.raises(PermissionDenied) as info:
        access.require(VISITOR, action)
    assert ACTIONS[action] in str(info.value) and "sign in as admin" in str(info.value)
    assert access.require(ADMIN, action) is ADMIN


def test_an_unknown_action_is_a_bug_not_a_refusal():
    with pytest.raises(ValueError, match=r"declare it in core\.access\.ACTIONS"):
        ADMIN.can("format-disk")


@pytest.mark.parametrize(("mode", "admin", "role"), [
    ("full", False, "admin"),  # a local run: everything allowed, no login
    ("full", True, "admin"),
    ("demo", False, "visitor"),
    ("demo", True, "admin"),
])
def test_actor_for_a_session(mode, admin, role):
    actor = access.actor_for(mode, session="s1", admin=admin)
    assert (actor.role, actor.mode, actor.session) == (role, mode, "s1")
    assert actor.limited == (mode == "demo")


def test_a_call_without_an_actor_follows_the_process_mode(mode):
    """A page that forgets ``actor=`` is refused on a demo server, not waved through."""
    mode("full")
    assert access.require(None, "delete").is_admin
    mode("demo")
    with pytest.raises(PermissionDenied):
        access.require(None, "delete")


def test_the_command_line_acts_as_the_operator_even_in_demo_mode(mode):
    mode("demo")
    access.act_as_operator()
    assert access.process_actor() is access.OPERATOR
    assert access.require(None, "export") is access.OPERATOR


@pytest.mark.parametrize(("given", "expected", "ok"), [
    ("s3cret-pw", "s3cret-pw", True),
    ("s3cret-pw ", "s3cret-pw", False),
    ("S3CRET-PW", "s3cret-pw", False),
    ("", "", False),          # no password configured: password sign-in is off
    ("anything", "", False),
    ("pässwörd", "pässwörd", True),   # non-ASCII compares as UTF-8 bytes
])
def test_password_ok(given, expected, ok):
    assert access.password_ok(given, expected) is ok


def test_password_check_is_constant_time(monkeypatch):
    calls = []
    real = access.hmac.compare_digest
    monkeypatch.setattr(access.hmac, "compare_digest",
                        lambda a, b: calls.append((a, b)) or real(a, b))
    assert access.password_ok("guess", "secret") is False
    assert calls == [(b"guess", b"secret")]


@pytest.mark.parametrize(("email", "admins", "ok"), [
    ("ada@lab.org", "ada@lab.org", True),
    ("Ada@Lab.org", " ada@lab.org , bob@lab.org", True),
    ("eve@lab.org", "ada@lab.org,bob@lab.org", False),
    ("ada@lab.org", "", False),      # no list: nobody is admin through a public provider
    (None, "ada@lab.org", False),
    ("", "ada@lab.org", False),
])
def test_oidc_admin(email, admins, ok):
    assert access.oidc_admin(email, admins) is ok


def test_sign_in_limits_failures_per_session_with_backoff(clock):
    """Failures at t=0,+1: backoff 1 s then 2 s; the 5th failure locks the session until the
    first one leaves the 300 s window; another session is not affected."""
    limiter, grants = AttemptLimiter(clock=clock), AdminSessions(clock=clock)

    def attempt(pw, session="s1"):
        return access.sign_in(pw, expected="right", session=session, limiter=limiter,
                              grants=grants)

    start = clock.t
    with pytest.raises(PermissionDenied, match="Wrong password"):
        attempt("wrong")
    with pytest.raises(QuotaExceeded, match="try again in 1 s"):
        attempt("right")  # too soon after a failure: refused before comparing
    for n in range(2, 6):
        clock.t += 2 ** (n - 2)  # exactly the backoff after n-1 failures
        with pytest.raises(PermissionDenied, match="Wrong password"):
            attempt("wrong")
    clock.t += 100
    with pytest.raises(QuotaExceeded) as info:
        attempt("right")  # locked: even the right password is not checked
    assert "Too many sign-in attempts" in str(info.value)
    assert grants.valid(attempt("right", session="s2"))  # other sessions sign in
    clock.t = start + 300.5
    token = attempt("right")
    assert grants.valid(token)


def test_sign_in_limit_per_server_stops_session_hopping(clock):
    limiter = AttemptLimiter(per_session=5, per_server=3, clock=clock)
    for i in range(3):
        limiter.failed(f"s{i}")
    with pytest.raises(QuotaExceeded):
        limiter.check("fresh-session")
    clock.t += 301
    limiter.check("fresh-session")


def test_sign_in_without_a_configured_password_is_off():
    with pytest.raises(PermissionDenied, match="NLPLAB_ADMIN_PASSWORD is not set"):
        access.sign_in("", expected="", session="s", limiter=AttemptLimiter(),
                       grants=AdminSessions())


def test_admin_tokens_expire_and_revoke(clock):
    grants = AdminSessions(ttl=60, clock=clock)
    token = grants.grant()
    assert grants.valid(token) and len(token) >= 40
    assert not grants.valid("x" * len(token)) and not grants.valid(True)
    assert not grants.valid(None)
    clock.t += 61
    assert not grants.valid(token)
    other = grants.grant()
    grants.revoke(other)
    assert not grants.valid(other)


def test_question_rate_limit_is_a_sliding_window_per_session(clock):
    limit = RateLimit(2, clock=clock)
    limit.take("a")
    clock.t += 1
    limit.take("a")
    limit.take("b")
    clock.t += 1
    with pytest.raises(QuotaExceeded, match="2 questions per minute per visitor: try again "
                                            "in 58 s"):
        limit.take("a")
    clock.t = 1000.0 + 60.5  # the first question left the window
    limit.take("a")


def test_take_question_spares_full_mode_and_admins(monkeypatch):
    monkeypatch.setattr(access, "_question_limits", {})
    full = access.actor_for("full", session="q", admin=False)
    for _ in range(5):
        access.take_question(full, 1)
        access.take_question(ADMIN, 1)
    visitor = access.Actor("visitor", mode="demo", session="q-visitor")
    access.take_question(visitor, 1)
    with pytest.raises(QuotaExceeded):
        access.take_question(visitor, 1)


@pytest.mark.parametrize(("env", "fragment"), [
    ({"NLPLAB_MODE": "public"}, "NLPLAB_MODE must be full or demo, got 'public'"),
    ({"NLPLAB_QUESTIONS_PER_MINUTE": "0"}, "NLPLAB_QUESTIONS_PER_MINUTE must be between 1"),
    ({"NLPLAB_FEEDBACK_RETENTION_DAYS": "-1"}, "NLPLAB_FEEDBACK_RETENTION_DAYS must be between"),
])
def test_bad_access_settings_name_variable_and_value(env, fragment):
    with pytest.raises(UserError, match=fragment):
        load_settings(env)


def test_access_settings_defaults_and_the_password_stays_out_of_reprs():
    s = load_settings({})
    assert (s.mode, s.admin_password, s.questions_per_minute, s.feedback_retention_days) == (
        "full", "", 10, 0)
    s = load_settings({"NLPLAB_MODE": "demo", "NLPLAB_ADMIN_PASSWORD": " pw with spaces ",
                       "NLPLAB_FEEDBACK_RETENTION_DAYS": "30"})
    assert s.mode == "demo" and s.admin_password == " pw with spaces "
    assert s.feedback_retention_days == 30
    assert "pw with spaces" not in repr(s)
