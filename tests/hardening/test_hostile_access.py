"""Hostile input against the demo's new entry points: the admin sign-in (wrong, huge, binary,
markup and injection-looking passwords, guessing from many sessions), the access settings and
``feedback purge``. Expected: a one-line refusal, never an exception or a granted session, and
the data directory unchanged (see :func:`tests.hardening.conftest.snapshot`).
"""

from __future__ import annotations

import pytest

from core import access
from core.access import AdminSessions, AttemptLimiter, PermissionDenied, QuotaExceeded
from core.cli import main
from core.errors import UserError
from core.settings import load_settings
from tests.access.conftest import Clock
from tests.hardening.conftest import snapshot
from tests.hardening.test_hostile_cli import HTML

PASSWORD = "s3cret demo password"
HOSTILE_PASSWORDS = {
    "empty": "",
    "whitespace": "   ",
    "prefix": PASSWORD[:-1],
    "longer": PASSWORD + "x",
    "case": PASSWORD.upper(),
    "nul": PASSWORD + "\x00",
    "huge": "a" * 1_000_000,
    "html": HTML,
    "sql": "' OR '1'='1' --",
    "lone surrogate": "\ud800",
    "rtl and emoji": "\u202e🙂" + PASSWORD,
}


@pytest.mark.parametrize("case", sorted(HOSTILE_PASSWORDS))
def test_hostile_password_is_refused_in_one_line(case):
    clock = Clock()
    limiter, grants = AttemptLimiter(clock=clock), AdminSessions(clock=clock)
    with pytest.raises(PermissionDenied) as info:
        access.sign_in(HOSTILE_PASSWORDS[case], expected=PASSWORD, session="s1",
                       limiter=limiter, grants=grants)
    assert str(info.value) == "Wrong password."
    assert not grants._tokens  # nothing granted


def test_guessing_from_many_sessions_hits_the_server_limit():
    clock = Clock()
    limiter, grants = AttemptLimiter(clock=clock), AdminSessions(clock=clock)
    refused = 0
    for i in range(200):  # a script opening a new session per guess
        try:
            access.sign_in(f"guess-{i}", expected=PASSWORD, session=f"s{i}", limiter=limiter,
                           grants=grants)
        except QuotaExceeded:
            refused += 1
        except PermissionDenied:
            pass
    assert refused == 150  # 50 wrong guesses per 5 minutes per server, the rest not checked
    with pytest.raises(QuotaExceeded):
        access.sign_in(PASSWORD, expected=PASSWORD, session="admin", limiter=limiter,
                       grants=grants)
    clock.t += 300
    assert grants.valid(access.sign_in(PASSWORD, expected=PASSWORD, session="admin",
                                       limiter=limiter, grants=grants))


@pytest.mark.parametrize("env", [
    {"NLPLAB_MODE": "DEMO; rm -rf /"}, {"NLPLAB_MODE": "admin"},
    {"NLPLAB_QUESTIONS_PER_MINUTE": "1e9"}, {"NLPLAB_QUESTIONS_PER_MINUTE": "-5"},
    {"NLPLAB_FEEDBACK_RETENTION_DAYS": "forever"}, {"NLPLAB_FEEDBACK_RETENTION_DAYS": "999999"},
])
def test_hostile_access_settings_are_refused_in_one_line(env):
    with pytest.raises(UserError) as info:
        load_settings(env)
    assert "\n" not in str(info.value) and next(iter(env)) in str(info.value)


@pytest.mark.parametrize(("argv", "fragment"), [
    (["feedback", "purge", "--days", "0"], "retention days must be a whole number >= 1"),
    (["feedback", "purge", "--days", "-30"], "retention days must be a whole number >= 1"),
    (["feedback", "purge", "--days", "ten"], "invalid int value"),
    (["feedback", "purge"], "pass --days N or set NLPLAB_FEEDBACK_RETENTION_DAYS"),
])
def test_hostile_purge_is_refused_and_keeps_data(populated, capsys, argv, fragment):
    before = snapshot(populated)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: usage + one error line, exit 2
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2 and not out and "Traceback" not in err
    assert fragment in err
    assert snapshot(populated) == before
