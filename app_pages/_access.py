"""Who is using this session: the sidebar's admin sign-in and the gate every page uses.

In ``full`` mode (a local run) everyone is admin and the sidebar shows nothing. In ``demo``
mode (``NLPLAB_MODE=demo``) a visitor sees every page, with admin-only widgets disabled:

    from app_pages._access import actor, locked

    if st.button("Delete", disabled=locked("delete")):   # greyed out for a visitor
        store.delete_kb(kb, actor=actor())                # and refused by core all the same

Admin is Streamlit's ``st.login`` (OIDC, when ``secrets.toml`` has an ``[auth]`` section) for an
e-mail in ``NLPLAB_ADMIN_EMAILS``, or the password ``NLPLAB_ADMIN_PASSWORD``; the rules, limits
and tokens are :mod:`core.access`'s. Only a token granted by this server process counts, so
nothing a browser sends can make a session admin. The leading underscore keeps this module out
of the page list.
"""

from __future__ import annotations

import streamlit as st

from core import access, st_cache
from core.errors import UserError

TOKEN_KEY = "_nlplab_admin_token"
DEMO_NOTE = ("Demo mode: ask, compare, rate, classify, estimate and look around. Building or "
             "deleting knowledge bases, uploads, training, evaluations, deleting adapters and "
             "exports need the admin role.")


def _session() -> str:
    return str(st.session_state.get("session_id", "anonymous"))


def oidc_configured() -> bool:
    """``st.login`` is usable: ``secrets.toml`` has an ``[auth]`` section."""
    return bool(st.secrets.load_if_toml_exists() and "auth" in st.secrets)


def _oidc_email() -> str | None:
    if oidc_configured() and st.user.is_logged_in:
        return st.user.get("email")
    return None


def is_admin() -> bool:
    settings = st_cache.settings()
    if settings.mode == "full" or access.ADMINS.valid(st.session_state.get(TOKEN_KEY)):
        return True
    return access.oidc_admin(_oidc_email(), settings.admin_emails)


def actor() -> access.Actor:
    """This session's :class:`core.access.Actor`, to pass to core entry points."""
    return access.actor_for(st_cache.settings().mode, session=_session(), admin=is_admin())


def locked(action: str, ready: bool = True) -> bool:
    """True when this session may not do ``action`` or the widget is not ``ready`` yet (e.g. a
    confirmation box unticked): a widget's ``disabled=``."""
    return not ready or not actor().can(action)


def quota(asked: bool) -> bool:
    """Count a question against the demo's per-minute quota; False (and an error) when over."""
    if not asked:
        return False
    try:
        access.take_question(actor(), st_cache.settings().questions_per_minute)
    except UserError as exc:
        st.error(str(exc))
        return False
    return True


def sign_in_sidebar() -> None:
    """The sidebar box: demo note and sign-in for a visitor, sign-out for an admin."""
    settings = st_cache.settings()
    if settings.mode == "full":
        return
    with st.sidebar:
        if is_admin():
            st.caption("Signed in as admin.")
            if st.button("Sign out", key="_access_sign_out"):
                access.ADMINS.revoke(st.session_state.pop(TOKEN_KEY, None))
                if _oidc_email() is not None:
                    st.logout()
                st.rerun()
            return
        st.caption(DEMO_NOTE)
        if oidc_configured():
            if st.user.is_logged_in:
                st.caption(f"{_oidc_email() or 'This account'} is not an admin here.")
                st.button("Sign out", key="_access_oidc_out", on_click=st.logout)
            else:
                st.button("Sign in as admin", key="_access_login", on_click=st.login)
        if settings.admin_password:
            _password_form(settings.admin_password)
        elif not oidc_configured():
            st.caption("Admin sign-in is not configured on this server.")


def _password_form(expected: str) -> None:
    with st.form("_access_sign_in", clear_on_submit=True, border=False):
        given = st.text_input("Admin password", type="password", key="_access_password")
        if st.form_submit_button("Sign in as admin"):
            try:
                token = access.sign_in(given, expected=expected, session=_session(),
                                       limiter=access.ATTEMPTS, grants=access.ADMINS)
            except UserError as exc:
                st.error(str(exc))
            else:
                st.session_state[TOKEN_KEY] = token
                st.rerun()
