"""Sign-in sessions end on the server: at sign-out (a copied cookie is refused afterwards), after the idle
limit, at the absolute lifetime, and when the password changes (but for the browser that changed it).

Time is a frozen clock the test moves (`app.clock.utcnow`, which the sign-in sessions read), never a sleep.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from app.models import SignInSession
from tests.conftest import TEAM_PASSWORD, temporary_password_in
from tests.integration.conftest import PortalBrowser, StoreBrowser, page, redirect_path, statements_run

NEW_PASSWORD = "Correct-horse-42"
IDLE_MINUTES, MAX_HOURS = 60, 12  # the defaults, spelled out here so the tests read on their own


@pytest.fixture
def app_config() -> dict:
    return {"SESSION_IDLE_MINUTES": IDLE_MINUTES, "SESSION_MAX_HOURS": MAX_HOURS}


class FrozenClock:
    def __init__(self):
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch) -> FrozenClock:
    frozen = FrozenClock()
    monkeypatch.setattr("app.clock.utcnow", frozen)
    return frozen


def copy_of(app, browser):
    """A second browser holding a copy of `browser`'s cookie, as someone who lifted it would."""
    if isinstance(browser, PortalBrowser):
        twin = PortalBrowser(app.test_client(), browser.member)
    else:
        twin = StoreBrowser(app.test_client(), browser.partner)
    twin.client.set_cookie("session", browser.client.get_cookie("session").value)
    return twin


def store_signed_in(store) -> bool:
    response = store.get("/")
    assert response.status_code in (200, 303), response.status_code
    if response.status_code == 303:
        assert redirect_path(response).startswith(store.url("/login")), redirect_path(response)
        return False
    return True


def portal_signed_in(browser) -> bool:
    response = browser.get("/")  # signed in: on to a page of the portal; signed out: to the sign-in page
    assert response.status_code == 303, response.status_code
    return not redirect_path(response).startswith("/portal/login")


def sessions(session, **person) -> list[SignInSession]:
    session.rollback()
    column, value = next(iter(person.items()))
    return list(session.exec(select(SignInSession).where(getattr(SignInSession, column) == value).order_by(SignInSession.id)))


@pytest.fixture
def member(make_partner, make_team_member):
    return make_team_member(make_partner(), "admin")


# --- sign-out -------------------------------------------------------------------------------


def test_a_copy_of_the_store_cookie_taken_before_signing_out_is_refused_afterwards(app, store, signed_in, session):
    copy = copy_of(app, store)
    assert store_signed_in(copy)  # the copy works while the session lasts

    signed_out = store.post("/logout")
    assert redirect_path(signed_out) == store.url("/login")

    assert not store_signed_in(copy)
    assert not store_signed_in(store)
    [record] = sessions(session, consumer_id=signed_in.id)
    assert record.ended_at is not None


def test_a_copy_of_the_portal_cookie_taken_before_signing_out_is_refused_afterwards(app, portal_as, member, session):
    browser = portal_as(member)
    copy = copy_of(app, browser)
    assert portal_signed_in(copy)

    signed_out = browser.post("/logout")
    assert redirect_path(signed_out) == "/portal/login"

    assert not portal_signed_in(copy)
    assert not portal_signed_in(browser)
    [record] = sessions(session, team_member_id=member.id)
    assert record.ended_at is not None


def test_signing_out_on_one_device_leaves_the_others_signed_in(app, store, signed_in, portal_as, member):
    laptop = StoreBrowser(app.test_client(), store.partner)
    assert laptop.login(signed_in.email, signed_in.password).status_code == 303
    laptop.post("/logout")
    assert store_signed_in(store) and not store_signed_in(laptop)

    desk, phone = portal_as(member), portal_as(member)
    phone.post("/logout")
    assert portal_signed_in(desk) and not portal_signed_in(phone)


def test_signing_in_on_a_second_device_does_not_end_the_first(app, store, signed_in, portal_as, member, session):
    second = StoreBrowser(app.test_client(), store.partner)
    assert second.login(signed_in.email, signed_in.password).status_code == 303
    assert store_signed_in(store) and store_signed_in(second)
    assert [record.ended_at for record in sessions(session, consumer_id=signed_in.id)] == [None, None]

    first_desk, second_desk = portal_as(member), portal_as(member)
    assert portal_signed_in(first_desk) and portal_signed_in(second_desk)


def test_signing_in_again_in_the_same_browser_ends_its_earlier_session(app, store, signed_in, session):
    earlier = copy_of(app, store)
    assert store.login(signed_in.email, signed_in.password).status_code == 303
    assert store_signed_in(store) and not store_signed_in(earlier)
    assert [record.ended_at is None for record in sessions(session, consumer_id=signed_in.id)] == [False, True]


def test_a_cookie_without_a_sign_in_session_signs_nobody_in(app, store, signed_in):
    """As a cookie from before sign-in sessions existed: flask-login's id and epoch alone are not enough."""
    with store.client.session_transaction() as cookie:
        cookie.pop("store_sign_in")
    assert not store_signed_in(store)


# --- idle limit and lifetime ----------------------------------------------------------------


def test_a_store_session_ends_after_the_idle_limit_counted_from_the_last_request(clock, store, signed_in):
    clock.advance(minutes=IDLE_MINUTES - 1)
    assert store_signed_in(store)  # used again in time: the idle limit starts over
    clock.advance(minutes=IDLE_MINUTES - 1)
    assert store_signed_in(store)
    clock.advance(minutes=IDLE_MINUTES)
    assert not store_signed_in(store)


def test_a_portal_session_ends_after_the_idle_limit_counted_from_the_last_request(clock, portal_as, member):
    browser = portal_as(member)
    clock.advance(minutes=IDLE_MINUTES - 1)
    assert portal_signed_in(browser)
    clock.advance(minutes=IDLE_MINUTES - 1)
    assert portal_signed_in(browser)
    clock.advance(minutes=IDLE_MINUTES)
    assert not portal_signed_in(browser)


def test_a_busy_store_session_still_ends_at_its_lifetime(clock, store, signed_in):
    for _ in range(MAX_HOURS * 2 - 1):  # a request every half hour: never idle
        clock.advance(minutes=30)
        assert store_signed_in(store)
    clock.advance(minutes=30)  # exactly MAX_HOURS after signing in
    assert not store_signed_in(store)


def test_a_busy_portal_session_still_ends_at_its_lifetime(clock, portal_as, member):
    browser = portal_as(member)
    for _ in range(MAX_HOURS * 2 - 1):
        clock.advance(minutes=30)
        assert portal_signed_in(browser)
    clock.advance(minutes=30)
    assert not portal_signed_in(browser)


def test_a_request_writes_the_last_seen_time_at_most_once_a_minute(clock, app, store, signed_in, session):
    def updates_during(request):
        with statements_run(app) as seen:
            request()
        return [s for s in seen if s.lstrip().upper().startswith("UPDATE SIGN_IN_SESSION")]

    wallet = lambda: store.get("/wallet", headers={"HX-Request": "true"})  # noqa: E731
    clock.advance(seconds=59)
    assert updates_during(wallet) == []
    clock.advance(seconds=1)
    assert len(updates_during(wallet)) == 1
    assert updates_during(wallet) == []
    [record] = sessions(session, consumer_id=signed_in.id)
    assert record.last_seen_at == clock.now


def test_the_store_reads_the_sign_in_session_with_the_consumer_in_one_query(app, store, signed_in):
    with statements_run(app) as seen:
        wallet = store.get("/wallet", headers={"HX-Request": "true"})
    assert wallet.status_code == 200
    reads = [s for s in seen if "sign_in_session" in s.lower()]
    assert len(reads) == 1 and "consumer" in reads[0].lower(), reads


# --- password changes ----------------------------------------------------------------------


def test_choosing_a_password_ends_the_consumers_other_sessions_but_not_this_one(app, store, new_consumer, session):
    elsewhere = StoreBrowser(app.test_client(), store.partner)
    for browser in (store, elsewhere):
        assert browser.login(new_consumer.email, new_consumer.temporary_password).status_code == 303
    store.get("/welcome/password")

    changed = store.post("/welcome/password", {"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD})
    assert changed.status_code == 303

    assert redirect_path(store.get("/")) == store.url("/terms")  # still signed in, on to the next step
    assert redirect_path(elsewhere.get("/welcome/password")).startswith(store.url("/login"))
    kept, ended = sessions(session, consumer_id=new_consumer.id)
    assert kept.ended_at is None and ended.ended_at is not None


def test_choosing_a_portal_password_ends_the_members_other_sessions_but_not_this_one(app, session, make_partner, mailbox):
    from app.services import team

    member, _ = team.invite(
        session, partner=make_partner(), email="nia.new@example.com", full_name="Nia New", role="admin", actor="test"
    )
    temporary = temporary_password_in(mailbox.last_to("nia.new@example.com"))
    here, elsewhere = PortalBrowser(app.test_client(), member), PortalBrowser(app.test_client(), member)
    for browser in (here, elsewhere):
        assert redirect_path(browser.login("nia.new@example.com", temporary)) == "/portal/welcome/password"
    here.get("/welcome/password")

    changed = here.post("/welcome/password", {"password": TEAM_PASSWORD, "confirmation": TEAM_PASSWORD})
    assert changed.status_code == 303, page(changed)

    assert portal_signed_in(here)
    assert not portal_signed_in(elsewhere)
    kept, ended = sessions(session, team_member_id=member.id)
    assert kept.ended_at is None and ended.ended_at is not None


def test_deactivating_a_member_ends_every_session_of_theirs(session, portal_as, make_partner, make_team_member):
    from app.services import team

    partner = make_partner()
    admin, viewer = make_team_member(partner, "admin"), make_team_member(partner, "viewer")
    browser = portal_as(viewer)
    team.set_member_active(session, partner=partner, member=viewer, active=False, by=admin)
    assert not portal_signed_in(browser)
    assert [record.ended_at is not None for record in sessions(session, team_member_id=viewer.id)] == [True]
