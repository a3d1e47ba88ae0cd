"""CSV bulk upload of consumers in the portal: refused files, a dry run with a reason per row, a commit that
creates exactly the valid rows (funded, welcomed) once, whatever is repeated or retried."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from sqlmodel import func, select

from app.domain.ledger import AccountKind
from app.domain.money import Money
from app.models import Account, AuditEvent, BulkUpload, BulkUploadRow, Consumer, EmailMessage, Entry, Transaction
from app.services import bulk_upload as bulk
from app.services import consumers, ledger, partners
from tests.conftest import temporary_password_in
from tests.integration.conftest import StoreBrowser, page, redirect_path, reload, statements_run

HEADER = "action,email,full_name,currency,initial_funds\n"


def changed_things(session) -> dict:
    """Everything a commit could change: consumers, money, emails, their states."""
    session.rollback()
    count = lambda model: session.exec(select(func.count()).select_from(model)).one()  # noqa: E731
    return {
        "consumers": count(Consumer),
        "active": session.exec(select(func.count()).select_from(Consumer).where(Consumer.is_active.is_(True))).one(),
        "accounts": count(Account),
        "transactions": count(Transaction),
        "entries": count(Entry),
        "emails": count(EmailMessage),
        "balances": sorted(session.exec(select(Account.key, Account.balance)).all()),
    }


def stored_uploads(session) -> tuple[int, int, int]:
    session.rollback()
    count = lambda model: session.exec(select(func.count()).select_from(model)).one()  # noqa: E731
    return count(BulkUpload), count(BulkUploadRow), count(AuditEvent)


def upload(browser, content: str | bytes, filename: str = "people.csv"):
    data = content.encode() if isinstance(content, str) else content
    browser.get("/bulk-uploads")
    return browser.post("/bulk-uploads", {"file": (io.BytesIO(data), filename)})


def latest_upload(session, partner) -> BulkUpload:
    session.rollback()
    return session.exec(select(BulkUpload).where(BulkUpload.partner_id == partner.id).order_by(BulkUpload.id.desc())).first()


def rows_of(session, upload_: BulkUpload) -> dict[int, BulkUploadRow]:
    session.rollback()
    rows = session.exec(
        select(BulkUploadRow).where(BulkUploadRow.upload_id == upload_.id).execution_options(populate_existing=True)
    ).all()
    return {row.row_number: row for row in rows}


def consumer_named(session, partner, email: str) -> Consumer | None:
    session.rollback()
    return session.exec(
        select(Consumer)
        .where(Consumer.partner_id == partner.id, Consumer.email == email)
        .execution_options(populate_existing=True)
    ).first()


def general_balance(session, consumer: Consumer, currency: str = "USD") -> int | None:
    account = ledger.find_account(session, AccountKind.GENERAL, currency, partner_id=consumer.partner_id, consumer_id=consumer.id)
    return None if account is None else reload(session, Account, account.id).balance


@pytest.fixture
def partner(make_partner):
    return make_partner(funds="1000")


@pytest.fixture
def operator_member(partner, make_team_member):
    return make_team_member(partner, "operator")


@pytest.fixture
def operator(operator_member, portal_as):
    return portal_as(operator_member)


@pytest.fixture
def paused_queue(app):
    """The queue keeps tasks until `run()` works through them, as a separate worker would."""
    huey = app.extensions["queue"]
    huey.immediate = False

    class Queue:
        @staticmethod
        def run() -> int:
            done = 0
            while (task := huey.dequeue()) is not None:
                huey.execute(task)
                done += 1
            return done

        @staticmethod
        def clear() -> None:
            huey.flush()

    yield Queue
    huey.immediate = True


# --- the upload page and the file format ------------------------------------------------------


def test_the_page_documents_the_format_and_the_template_is_a_file_that_uploads(session, partner, operator):
    response = operator.get("/bulk-uploads")
    assert response.status_code == 200
    text = page(response)
    for column in ("action", "email", "full_name", "currency", "initial_funds"):
        assert f"<code>{column}</code>" in text
    assert "No uploads yet." in text

    template = operator.get("/bulk-uploads/template.csv")
    assert template.status_code == 200 and template.mimetype == "text/csv"
    assert "attachment" in template.headers["Content-Disposition"]
    assert template.get_data(as_text=True).splitlines()[0] == "action,email,full_name,currency,initial_funds,tags"

    response = upload(operator, template.get_data(), "consumers-template.csv")
    assert response.status_code == 303
    outcomes = {row.email: row.outcome for row in rows_of(session, latest_upload(session, partner)).values()}
    assert outcomes == {
        "jane.doe@example.com": "create",
        "sam.lee@example.com": "create",
        "former.colleague@example.com": "error",
    }
    listing = page(operator.get("/bulk-uploads"))
    assert "consumers-template.csv" in listing and operator.member.email in listing


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "The file is empty."),
        (b"  \r\n\n", "The file is empty."),
        (HEADER.encode(), "The file has a header row but no rows under it."),
        (b"email,full_name,currency\nann@example.com,Ann,USD\n", "Missing column: initial_funds."),
        (b"name,mail\nAnn,ann@example.com\n", "Unknown columns: name, mail."),
        (b"email,full_name,currency,initial_funds,phone\nann@example.com,Ann,USD,1,555\n", "Unknown column: phone."),
        (
            b"email,email,full_name,currency,initial_funds\na@example.com,a@example.com,A,USD,1\n",
            "The column email appears more than once.",
        ),
        ("email,full_name,currency,initial_funds\nzoë@example.com,Zoë,USD,1\n".encode("latin-1"), "The file is not UTF-8 text."),
        (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00workbook.xml", "This is not a CSV file."),
        (b'email,full_name,currency,initial_funds\n"ann@example.com,Ann,USD,1\n', "This is not a readable CSV file"),
        ((HEADER + "create,a{}@example.com,A,USD,1\n" * 10_001).encode(), "The file has more than 10,000 rows"),
        (
            (HEADER + "create,ok@example.com,Ok,USD,1\ncreate,a@example.com," + "x" * 301 + ",USD,1\n").encode(),
            "Row 2 is too long for a consumer (a value longer than 300 characters).",
        ),
    ],
    ids=[
        "empty",
        "blank",
        "header-only",
        "missing-column",
        "not-our-columns",
        "unknown-column",
        "column-twice",
        "latin-1",
        "spreadsheet",
        "broken-quotes",
        "too-many-rows",
        "too-long-row",
    ],
)
def test_a_file_that_cannot_be_read_is_refused_with_a_clear_message_and_nothing_is_stored(
    session, partner, operator, content, message
):
    before, money_before = stored_uploads(session), changed_things(session)
    response = upload(operator, content)
    assert response.status_code == 422
    assert message in page(response)
    assert 'role="alert"' in page(response)
    assert stored_uploads(session) == before
    assert changed_things(session) == money_before


def test_no_file_chosen_is_explained(session, operator):
    operator.get("/bulk-uploads")
    response = operator.post("/bulk-uploads", {})
    assert response.status_code == 422 and "Choose a CSV file to upload." in page(response)
    assert stored_uploads(session)[:2] == (0, 0)


@pytest.mark.parametrize("app_config", [{"BULK_UPLOAD_MAX_BYTES": 200}])
def test_a_file_bigger_than_the_setting_is_refused(session, operator):
    content = HEADER + "".join(f"create,person{i}@example.com,Person {i},USD,1\n" for i in range(8))
    assert len(content) > 200
    response = upload(operator, content)
    assert response.status_code == 422
    assert "The file is bigger than 200 bytes, the most one upload can be." in page(response)
    assert stored_uploads(session)[:2] == (0, 0)
    assert upload(operator, HEADER + "create,one@example.com,One,USD,1\n").status_code == 303


def test_columns_in_any_order_and_case_a_bom_and_semicolons_are_read(session, partner, operator):
    content = (
        "\ufeffInitial Funds;EMAIL;Currency;Full_Name\n12,50;x@example.com;usd;Ex Ample\n\n7;Y@Example.com;USD;  Why   Not \n"
        '0;z@example.com;USD;"Doe; Zoe\nQuinn"\n'
    )
    # "12,50" is one value here (the separator is ;) and not a number with a decimal point.
    assert upload(operator, content.encode()).status_code == 303
    rows = rows_of(session, latest_upload(session, partner))
    assert sorted(rows) == [1, 3, 4]  # the blank line is skipped but counted, so numbers match the file
    assert (rows[1].outcome, rows[1].message) == ("error", "initial_funds must be a number")
    assert (rows[3].outcome, rows[3].action, rows[3].email, rows[3].full_name, rows[3].currency, rows[3].amount) == (
        "create",
        "create",
        "y@example.com",
        "Why Not",
        "USD",
        700,
    )
    assert (rows[4].outcome, rows[4].full_name) == (
        "create",
        "Doe; Zoe Quinn",
    )  # a quoted value may hold the separator and a line break


# --- the dry run ----------------------------------------------------------------------------------


def test_every_row_gets_its_outcome_and_the_dry_run_changes_nothing(session, partner, operator, make_consumer, mailbox):
    partners.fund_partner(session, partner=partner, amount=Money(100_00, "EUR"))
    kept = make_consumer(partner, email="kept@example.com", funds="5")
    leaving = make_consumer(partner, email="leaving@example.com", funds="0")
    gone = make_consumer(partner, email="gone@example.com", funds="0")
    consumers.set_active(session, consumer=gone, active=False)
    mailbox.clear()
    before = changed_things(session)
    content = (
        HEADER
        + "\n".join(
            [
                "create,ann@example.com,Ann Able,USD,10.00",  # 1
                "create,not-an-email,Bad Email,USD,1",  # 2
                "create,noname@example.com,,USD,1",  # 3
                "create,xyz@example.com,Xavier,XYZ,1",  # 4
                "create,gbp@example.com,Gabriel,GBP,1",  # 5
                "create,cents@example.com,Cent,USD,1.234",  # 6
                "create,minus@example.com,Minus,USD,-5",  # 7
                "create,ten@example.com,Ten,USD,ten",  # 8
                "create,ANN@Example.com,Ann Again,USD,3",  # 9
                "deactivate,stranger@example.com,,,",  # 10
                "create,kept@example.com,Kept,USD,1",  # 11
                "deactivate,leaving@example.com,,,",  # 12
                "deactivate,gone@example.com,,,",  # 13
                "delete,someone@example.com,Some One,USD,1",  # 14
                "create,nocurrency@example.com,No Currency,,1",  # 15
                "create,extra@example.com,Extra,USD,1,surprise",  # 16
                "create,kept@example.com,Kept,EUR,2.50",  # 17
                ",blank-action@example.com,Blank Action,USD,",  # 18
                "create,leaving@example.com,Leaving,EUR,1",  # 19
            ]
        )
        + "\n"
    )
    response = upload(operator, content)
    assert response.status_code == 303
    the_upload = latest_upload(session, partner)
    assert redirect_path(response) == f"/portal/bulk-uploads/{the_upload.public_id}"
    rows = rows_of(session, the_upload)
    expected = {
        1: ("create", ""),
        2: ("error", "'not-an-email' is not a valid email address"),
        3: ("error", "Enter a full name."),
        4: ("error", "currency 'XYZ' is not a currency we know: use its three-letter code, like USD or EUR"),
        5: ("error", "GBP is not a currency of this program (it has USD, EUR)."),
        6: ("error", "initial_funds has more than 2 decimal places"),
        7: ("error", "initial_funds cannot be negative."),
        8: ("error", "initial_funds must be a number"),
        9: ("error", "Duplicate of row 1 (ann@example.com, USD)."),
        10: ("error", "There is no consumer with this email to deactivate."),
        11: ("skip", "Already has a USD wallet."),
        12: ("deactivate", ""),
        13: ("skip", "Already deactivated."),
        14: ("error", "Unknown action “delete”: use create, deactivate or tag."),
        15: ("error", "Enter a currency (e.g. USD)."),
        16: ("error", "This row has more values than the header has columns."),
        17: ("create", "Existing consumer: gets a EUR wallet."),
        18: ("create", ""),
        19: ("error", "Duplicate of row 12, which deactivates leaving@example.com."),
    }
    assert {n: (row.outcome, row.message[: len(expected[n][1])]) for n, row in rows.items()} == expected
    assert (rows[1].email, rows[1].full_name, rows[1].amount) == ("ann@example.com", "Ann Able", 1000)
    assert (rows[17].currency, rows[17].amount, rows[18].amount) == ("EUR", 250, 0)
    the_upload = reload(session, BulkUpload, the_upload.id)
    assert (the_upload.status, the_upload.processed_rows, the_upload.total_rows) == ("checked", 19, 19)
    assert (the_upload.to_create, the_upload.to_deactivate, the_upload.skipped, the_upload.errors) == (3, 1, 2, 13)

    # Nothing but the upload itself changed: no consumer, no money, no email, nobody deactivated.
    assert changed_things(session) == before
    assert mailbox.messages == []
    assert reload(session, Consumer, leaving.id).is_active and general_balance(session, kept) == 500

    preview = page(operator.get(f"/bulk-uploads/{the_upload.public_id}"))
    assert "Commit 4 valid rows" in preview
    assert 'id="count-error">13<' in preview
    assert "$10.00" in preview and "€2.50" in preview and "Duplicate of row 1" in preview
    events = session.exec(select(AuditEvent).where(AuditEvent.action.startswith("bulk_upload."))).all()
    assert [(e.action, e.subject_id, e.team_member_id) for e in events] == [
        ("bulk_upload.upload", the_upload.public_id, operator.member.id)
    ]


def test_a_thousand_rows_are_checked_without_a_query_per_row_and_listed_by_outcome_and_page(app, session, partner, operator):
    existing = [consumers.BulkWallet(f"old{i}@example.com", f"Old {i}", Money(0, "USD")) for i in range(50)]
    consumers.create_consumers_in_bulk(session, partner=partner, wallets=existing)
    lines = [f"create,new{i}@example.com,New {i},USD,0.50" for i in range(900)]
    lines += [f"create,old{i}@example.com,Old {i},USD,1" for i in range(50)]
    lines += [f"create,bad{i}@example,Bad {i},USD,1" for i in range(50)]
    with statements_run(app) as statements:
        assert upload(operator, HEADER + "\n".join(lines) + "\n").status_code == 303
    # The upload request and the check together: a few statements per chunk of rows, not one per row.
    assert len(statements) < 100, len(statements)
    the_upload = latest_upload(session, partner)
    assert (the_upload.to_create, the_upload.skipped, the_upload.errors, the_upload.total_rows) == (900, 50, 50, 1000)

    base = f"/bulk-uploads/{the_upload.public_id}"
    whole = page(operator.get(base))
    assert "Page 1 of 20" in whole and "$450.00" in whole  # 900 × $0.50 needed from partner funds
    errors = operator.get(base + "?outcome=error", headers={"HX-Request": "true"})
    assert errors.status_code == 200 and "HX-Request" in errors.headers["Vary"]
    text = page(errors)
    assert text.lstrip().startswith('<div id="bulk-rows">') and "<html" not in text
    assert "50 rows with outcome error" in text and "Page 1 of" not in text
    assert "bad0@example" in text and "new0@example.com" not in text
    second = page(operator.get(base + "?outcome=create&page=2", headers={"HX-Request": "true"}))
    assert "Page 2 of 18" in second and "new50@example.com" in second and "new0@example.com" not in second
    # Without JavaScript the same URL is the whole page with the filter kept.
    plain = page(operator.get(base + "?outcome=skip"))
    assert "<html" in plain and '<option value="skip" selected>' in plain and "old0@example.com" in plain


def test_progress_is_shown_while_the_queue_works_and_the_partial_stops_polling_when_done(
    session, partner, operator, paused_queue
):
    assert upload(operator, HEADER + "create,ann@example.com,Ann,USD,10\ncreate,bo@example.com,Bo,USD,5\n").status_code == 303
    the_upload = latest_upload(session, partner)
    base = f"/bulk-uploads/{the_upload.public_id}"
    waiting = page(operator.get(base))
    assert "<progress" in waiting and 'hx-trigger="every 1s"' in waiting and "Checking" in waiting
    assert "Commit" not in waiting

    polled = page(operator.get(base + "/progress", headers={"HX-Request": "true"}))
    assert polled.lstrip().startswith('<section id="bulk-upload"') and '<progress class="progress" value="0" max="2"' in polled
    assert paused_queue.run() == 1
    done = page(operator.get(base + "/progress", headers={"HX-Request": "true"}))
    assert 'hx-trigger="every 1s"' not in done and "<progress" not in done
    assert "Commit 2 valid rows" in done and "ann@example.com" in done

    assert operator.post(base + "/commit").status_code == 303
    committing = page(operator.get(base + "/progress", headers={"HX-Request": "true"}))
    assert "Committing" in committing and 'hx-trigger="every 1s"' in committing and 'value="0" max="2"' in committing
    assert consumer_named(session, partner, "ann@example.com") is None  # the commit waits for a worker
    assert '<span class="portal-funds" id="portal-funds"' not in committing  # nothing moved yet
    paused_queue.run()
    finished = page(operator.get(base + "/progress", headers={"HX-Request": "true"}))
    assert 'hx-trigger="every 1s"' not in finished and "Committed on" in finished
    # The header's partner funds follow, out of band: $15.00 of initial funds came out of them.
    funds = re.search(r'<span class="portal-funds" id="portal-funds"[^>]*hx-swap-oob="true">(.*?)</span>', finished, re.S)
    assert funds and "$985.00" in funds.group(1)
    assert consumer_named(session, partner, "ann@example.com") is not None


# --- the commit ----------------------------------------------------------------------------------


def test_a_commit_creates_exactly_the_valid_rows_funded_from_partner_funds_and_welcome_emails_let_them_sign_in(
    app, session, partner, operator, operator_member, make_consumer, mailbox
):
    partners.fund_partner(session, partner=partner, amount=Money(100_00, "EUR"))
    kept = make_consumer(partner, email="kept@example.com", funds="5")
    mailbox.clear()
    content = (
        HEADER
        + "\n".join(
            [
                "create,ann@example.com,Ann Able,USD,10.00",
                "create,bo@example.com,Bo Bell,USD,",
                "create,bad-email,Bad,USD,1",
                "create,kept@example.com,Kept,EUR,2.50",
                "create,kept@example.com,Kept,USD,99",
            ]
        )
        + "\n"
    )
    upload(operator, content)
    the_upload = latest_upload(session, partner)
    before = changed_things(session)
    response = operator.post(f"/bulk-uploads/{the_upload.public_id}/commit")
    assert response.status_code == 303
    # Done at once here (the queue runs in the request): "Committed", and no "Committing…" left above it.
    committed_page = page(operator.get(redirect_path(response).removeprefix("/portal")))
    assert "Committed on" in committed_page and "Committing" not in committed_page

    ann, bo = consumer_named(session, partner, "ann@example.com"), consumer_named(session, partner, "bo@example.com")
    assert (ann.full_name, ann.is_active, ann.must_change_password) == ("Ann Able", True, True)
    assert general_balance(session, ann) == 10_00 and general_balance(session, bo) == 0
    assert general_balance(session, kept, "EUR") == 2_50 and general_balance(session, kept) == 5_00
    assert consumer_named(session, partner, "bad-email") is None
    after = changed_things(session)
    assert after["consumers"] == before["consumers"] + 2
    assert after["accounts"] == before["accounts"] + 6  # general and bonus for Ann, Bo, and Kept in EUR
    assert after["transactions"] == before["transactions"] + 2  # Bo's wallet starts at zero: no credit
    assert partners.partner_funds(session, partner, "USD") == Money(1000_00 - 5_00 - 10_00, "USD")
    assert partners.partner_funds(session, partner, "EUR") == Money(100_00 - 2_50, "EUR")
    credit = session.exec(select(Transaction).where(Transaction.consumer_id == ann.id)).one()
    assert (credit.type, credit.status, credit.memo, credit.amount) == ("credit", "completed", "Initial funds", 10_00)
    assert credit.actor.startswith(f"team:{operator_member.id} ")

    the_upload = reload(session, BulkUpload, the_upload.id)
    assert (the_upload.status, the_upload.done_rows, the_upload.to_create, the_upload.errors) == ("committed", 3, 3, 1)
    assert all(row.committed == (row.outcome == "create") for row in rows_of(session, the_upload).values())
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "bulk_upload.committed")).one()
    assert (event.partner_id, event.team_member_id, event.subject_id) == (partner.id, operator_member.id, the_upload.public_id)
    assert json.loads(event.details) == {"created": 3, "deactivated": 0, "skipped": 0, "remaining": 0}
    assert (
        session.exec(select(AuditEvent).where(AuditEvent.action == "bulk_upload.commit")).one().team_member_id
        == operator_member.id
    )

    # Welcome emails go to the two new consumers only, each with a temporary password that works in the store.
    assert mailbox.to("kept@example.com") == []
    for person in (ann, bo):
        password = temporary_password_in(mailbox.last_to(person.email))
        store = StoreBrowser(app.test_client(), partner)
        signed_in = store.login(person.email, password)
        assert signed_in.status_code == 303 and redirect_path(signed_in) == store.url("/welcome/password")
        assert reload(session, Consumer, person.id).temporary_password_expires_at is not None


def test_until_the_welcome_is_sent_a_bulk_consumer_cannot_sign_in(app, session, partner, mailbox):
    created = consumers.create_consumers_in_bulk(
        session, partner=partner, wallets=[consumers.BulkWallet("waiting@example.com", "Wai Ting", Money(1_00, "USD"))]
    )
    store = StoreBrowser(app.test_client(), partner)
    for password in ("", " ", "password"):
        assert store.login("waiting@example.com", password).status_code == 422
    assert bulk.welcome(session, created.new_consumer_ids) == 1
    assert bulk.welcome(session, created.new_consumer_ids) == 0  # a retried task sends no second password
    assert len(mailbox.to("waiting@example.com")) == 1
    password = temporary_password_in(mailbox.last_to("waiting@example.com"))
    assert store.login("waiting@example.com", password).status_code == 303


def test_the_timing_dummy_password_does_not_open_a_bulk_consumer_without_a_password(app, session, partner):
    consumers.create_consumers_in_bulk(
        session, partner=partner, wallets=[consumers.BulkWallet("dummy@example.com", "Dum My", Money(0, "USD"))]
    )
    store = StoreBrowser(app.test_client(), partner)
    assert store.login("dummy@example.com", "not-a-real-password-just-for-timing").status_code == 422


def test_deactivation_rows_deactivate_those_consumers_only(session, partner, operator, make_consumer):
    leaving, staying = make_consumer(partner, funds="0"), make_consumer(partner, funds="0")
    upload(operator, HEADER + f"deactivate,{leaving.email.upper()},,,\n")
    the_upload = latest_upload(session, partner)
    assert operator.post(f"/bulk-uploads/{the_upload.public_id}/commit").status_code == 303
    assert not reload(session, Consumer, leaving.id).is_active
    assert reload(session, Consumer, staying.id).is_active
    assert reload(session, BulkUpload, the_upload.id).status == "committed"
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "bulk_upload.committed")).one()
    assert json.loads(event.details)["deactivated"] == 1


def test_the_same_file_again_and_a_second_commit_change_nothing_more(session, partner, operator, mailbox):
    content = HEADER + "create,ann@example.com,Ann,USD,10\ncreate,bo@example.com,Bo,USD,20\n"
    upload(operator, content)
    first = latest_upload(session, partner)
    assert operator.post(f"/bulk-uploads/{first.public_id}/commit").status_code == 303
    after_first = changed_things(session)
    assert len(mailbox.messages) == 2

    again = operator.post(f"/bulk-uploads/{first.public_id}/commit")
    assert again.status_code == 422 and "This upload has already been committed." in page(again)

    response = upload(operator, content, "people-again.csv")
    second = latest_upload(session, partner)
    assert second.id != first.id and second.sha256 == first.sha256
    shown = page(operator.get(redirect_path(response).removeprefix("/portal")))
    assert "You uploaded this same file on" in shown
    assert "Nothing to commit" in shown and "Commit " not in shown
    assert {row.outcome for row in rows_of(session, second).values()} == {"skip"}
    refused = operator.post(f"/bulk-uploads/{second.public_id}/commit")
    assert refused.status_code == 422 and "There are no valid rows left to commit." in page(refused)
    assert changed_things(session) == after_first
    assert len(mailbox.messages) == 2


def test_a_commit_retried_after_a_failure_continues_where_it_stopped_and_credits_once(
    session, partner, operator, operator_member, paused_queue, monkeypatch
):
    monkeypatch.setattr(bulk, "COMMIT_BATCH", 2)
    upload(operator, HEADER + "".join(f"create,p{i}@example.com,Person {i},USD,{i + 1}\n" for i in range(5)))
    paused_queue.run()
    the_upload = latest_upload(session, partner)
    assert operator.post(f"/bulk-uploads/{the_upload.public_id}/commit").status_code == 303

    real = consumers.create_consumers_in_bulk
    calls = []

    def dies_on_the_second_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise ConnectionError("database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(consumers, "create_consumers_in_bulk", dies_on_the_second_batch)
    paused_queue.run()  # the first batch commits, the second fails: huey schedules a retry
    assert reload(session, BulkUpload, the_upload.id).status == "committing"
    assert [consumer_named(session, partner, f"p{i}@example.com") is not None for i in range(5)] == [
        True,
        True,
        False,
        False,
        False,
    ]

    monkeypatch.setattr(consumers, "create_consumers_in_bulk", real)
    assert bulk.commit(session, the_upload.id, operator_member.id) == "committed"  # what the retry runs
    assert bulk.commit(session, the_upload.id, operator_member.id) == "skipped"  # and a duplicate of it
    for i in range(5):
        person = consumer_named(session, partner, f"p{i}@example.com")
        credits = session.exec(select(Transaction).where(Transaction.consumer_id == person.id)).all()
        assert [c.amount for c in credits] == [(i + 1) * 100]
    assert partners.partner_funds(session, partner, "USD") == Money(1000_00 - 15_00, "USD")
    assert reload(session, BulkUpload, the_upload.id).done_rows == 5
    assert (
        session.exec(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "bulk_upload.committed")).one() == 1
    )


def last_attempt(app, name: str, *args):
    """Run a queued task as huey runs its last retry."""
    task = app.extensions["queue_tasks"][name].s(*args)
    task.retries = 0
    app.extensions["queue"].execute(task)


def test_a_check_that_fails_for_good_says_so_instead_of_showing_progress_forever(
    app, session, partner, operator, paused_queue, monkeypatch
):
    upload(operator, HEADER + "create,ann@example.com,Ann,USD,10\n")
    the_upload = latest_upload(session, partner)
    paused_queue.clear()

    def database_went_away(*_args):
        raise ConnectionError("database went away")

    monkeypatch.setattr(bulk.Known, "load", database_went_away)
    last_attempt(app, "check_bulk_upload", the_upload.id)
    failed = reload(session, BulkUpload, the_upload.id)
    assert (failed.status, failed.failure) == ("failed", "Checking stopped: ConnectionError")
    shown = page(operator.get(f"/bulk-uploads/{the_upload.public_id}"))
    assert "Checking stopped: ConnectionError Upload the file again." in shown and 'hx-trigger="every 1s"' not in shown


def test_a_commit_that_fails_for_good_keeps_what_it_did_and_can_be_committed_again(
    app, session, partner, operator, operator_member, paused_queue, monkeypatch
):
    monkeypatch.setattr(bulk, "COMMIT_BATCH", 1)
    upload(operator, HEADER + "create,ann@example.com,Ann,USD,10\ncreate,bo@example.com,Bo,USD,20\n")
    paused_queue.run()
    the_upload = latest_upload(session, partner)
    operator.post(f"/bulk-uploads/{the_upload.public_id}/commit")
    paused_queue.clear()
    real = consumers.deactivate_in_bulk
    calls = []

    def dies_on_the_second_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise ConnectionError("database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(consumers, "deactivate_in_bulk", dies_on_the_second_batch)
    last_attempt(app, "commit_bulk_upload", the_upload.id, operator_member.id)
    stopped = reload(session, BulkUpload, the_upload.id)
    assert stopped.status == "checked" and stopped.failure == "Committing stopped (ConnectionError). Commit again to continue."
    assert consumer_named(session, partner, "ann@example.com") and not consumer_named(session, partner, "bo@example.com")
    assert "Commit 1 valid row" in page(operator.get(f"/bulk-uploads/{the_upload.public_id}"))

    monkeypatch.setattr(consumers, "deactivate_in_bulk", real)
    assert operator.post(f"/bulk-uploads/{the_upload.public_id}/commit").status_code == 303
    paused_queue.run()
    assert reload(session, BulkUpload, the_upload.id).status == "committed"
    assert general_balance(session, consumer_named(session, partner, "bo@example.com")) == 20_00
    assert partners.partner_funds(session, partner, "USD") == Money(1000_00 - 30_00, "USD")


def test_a_batch_another_worker_committed_first_is_left_alone(session, partner, operator, paused_queue):
    upload(operator, HEADER + "create,ann@example.com,Ann,USD,10\n")
    paused_queue.run()
    the_upload = latest_upload(session, partner)
    stale_batch = list(rows_of(session, the_upload).values())
    operator.post(f"/bulk-uploads/{the_upload.public_id}/commit")
    paused_queue.run()
    before = changed_things(session)
    with pytest.raises(bulk._BatchTaken):
        bulk._commit_batch(session, partner, the_upload, stale_batch, actor="test")
    assert changed_things(session) == before


def test_partner_funds_too_low_are_shown_and_the_commit_is_refused_until_funds_are_added(
    session, make_partner, make_team_member, portal_as
):
    partner = make_partner(funds="50")
    browser = portal_as(make_team_member(partner, "operator"))
    upload(browser, HEADER + "create,ann@example.com,Ann,USD,40\ncreate,bo@example.com,Bo,USD,30\n")
    the_upload = latest_upload(session, partner)
    base = f"/bulk-uploads/{the_upload.public_id}"
    shown = page(browser.get(base))
    assert "$70.00" in shown and "$20.00 short" in shown and "Partner funds are too low" in shown
    assert "Commit 2 valid rows" not in shown
    before = changed_things(session)
    refused = browser.post(base + "/commit")
    assert refused.status_code == 422
    assert "Partner funds are too low for this upload: 70.00 USD needed, 50.00 USD available." in page(refused)
    assert changed_things(session) == before
    assert reload(session, BulkUpload, the_upload.id).status == "checked"

    partners.fund_partner(session, partner=partner, amount=Money(20_00, "USD"))
    assert "Commit 2 valid rows" in page(browser.get(base))
    assert browser.post(base + "/commit").status_code == 303
    assert partners.partner_funds(session, partner, "USD") == Money(0, "USD")


def test_partner_funds_running_out_during_the_commit_stop_it_at_that_batch(
    session, partner, operator, make_consumer, paused_queue, monkeypatch
):
    monkeypatch.setattr(bulk, "COMMIT_BATCH", 1)
    upload(
        operator,
        HEADER + "create,ann@example.com,Ann,USD,300\ncreate,bo@example.com,Bo,USD,300\ncreate,cy@example.com,Cy,USD,300\n",
    )
    paused_queue.run()
    the_upload = latest_upload(session, partner)
    assert operator.post(f"/bulk-uploads/{the_upload.public_id}/commit").status_code == 303
    make_consumer(partner, funds="500")  # meanwhile someone else spends partner funds: $500 left, enough for one row
    paused_queue.run()
    stopped = reload(session, BulkUpload, the_upload.id)
    assert stopped.status == "checked" and "Partner funds ran out at row 2" in stopped.failure
    assert consumer_named(session, partner, "ann@example.com") and not consumer_named(session, partner, "bo@example.com")
    shown = page(operator.get(f"/bulk-uploads/{the_upload.public_id}"))
    # $200 left for the $600 still to commit: the page says so and offers no commit.
    assert "Partner funds ran out at row 2" in shown and "$400.00 short" in shown and "Commit 2 valid rows" not in shown

    partners.fund_partner(session, partner=partner, amount=Money(400_00, "USD"))
    assert operator.post(f"/bulk-uploads/{the_upload.public_id}/commit").status_code == 303
    paused_queue.run()
    assert reload(session, BulkUpload, the_upload.id).status == "committed"
    for email in ("ann@example.com", "bo@example.com", "cy@example.com"):
        assert general_balance(session, consumer_named(session, partner, email)) == 300_00
    assert partners.partner_funds(session, partner, "USD") == Money(0, "USD")
    summaries = session.exec(
        select(AuditEvent.summary).where(AuditEvent.action == "bulk_upload.committed").order_by(AuditEvent.id)
    ).all()
    assert summaries[0].endswith("1 created, 0 deactivated, 0 skipped, 2 not committed yet")
    assert "3 created" in summaries[1]


# --- error rows ----------------------------------------------------------------------------------


def test_the_error_rows_download_as_csv_with_their_original_values_and_the_reason_and_upload_again(session, partner, operator):
    content = "Email,Full_Name,Currency,Initial_Funds\nok@example.com,Okay,USD,1\nbad@,Bad Email,USD,1\ncents@example.com,Cents,USD,1.234\n"
    upload(operator, content, "team list.csv")
    the_upload = latest_upload(session, partner)
    response = operator.get(f"/bulk-uploads/{the_upload.public_id}/errors.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="team-list-errors.csv"'
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["action", "email", "full_name", "currency", "initial_funds", "tags", "error"]
    assert [row[:5] for row in rows[1:]] == [
        ["", "bad@", "Bad Email", "USD", "1"],
        ["", "cents@example.com", "Cents", "USD", "1.234"],
    ]
    assert "is not a valid email address" in rows[1][6] and rows[2][6] == "initial_funds has more than 2 decimal places"

    fixed = response.get_data(as_text=True).replace("bad@", "bad@example.com").replace("1.234", "1.23")
    assert upload(operator, fixed, "team-list-errors.csv").status_code == 303  # the error column is ignored
    again = latest_upload(session, partner)
    assert (again.to_create, again.errors) == (2, 0)


def test_the_error_rows_cannot_run_formulas_in_a_spreadsheet_and_still_upload_as_they_were(session, partner, operator):
    content = 'email,full_name,currency,initial_funds\n"=HYPERLINK(""http://evil.example"",""x"")",Mal Icious,USD,1\nfine@example.com,@Fine Person,USD,-5\n'
    upload(operator, content)
    first = latest_upload(session, partner)
    response = operator.get(f"/bulk-uploads/{first.public_id}/errors.csv")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[1][1] == '\'=HYPERLINK("http://evil.example","x")' and rows[2][2] == "'@Fine Person" and rows[2][4] == "'-5"
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    upload(operator, response.get_data(as_text=True), "again.csv")
    again = latest_upload(session, partner)
    assert again.errors == 2
    back = list(csv.reader(io.StringIO(operator.get(f"/bulk-uploads/{again.public_id}/errors.csv").get_data(as_text=True))))
    assert [row[:5] for row in back] == [row[:5] for row in rows]  # read back as typed, not with the quotes doubled


# --- who may ---------------------------------------------------------------------------------------


def test_a_page_number_past_anything_a_database_can_count_shows_the_first_page(session, partner, operator):
    upload(operator, "email,full_name,currency,initial_funds\nbad,X,USD,1\n")
    for path in ("/bulk-uploads", f"/bulk-uploads/{latest_upload(session, partner).public_id}"):
        assert operator.get(f"{path}?page=99999999999999999999").status_code == 200, path


def test_viewers_cannot_upload_or_commit(session, partner, operator, make_team_member, portal_as):
    upload(operator, HEADER + "create,ann@example.com,Ann,USD,10\n")
    the_upload = latest_upload(session, partner)
    viewer = portal_as(make_team_member(partner, "viewer"))
    before, money_before = stored_uploads(session), changed_things(session)
    assert viewer.get("/bulk-uploads").status_code == 403
    viewer.get("/team")  # any page for a CSRF token
    refused = viewer.post(
        "/bulk-uploads", {"file": (io.BytesIO((HEADER + "create,bo@example.com,Bo,USD,1\n").encode()), "x.csv")}
    )
    assert refused.status_code == 403 and "doesn't allow this" in page(refused)
    assert viewer.post(f"/bulk-uploads/{the_upload.public_id}/commit").status_code == 403
    assert viewer.get(f"/bulk-uploads/{the_upload.public_id}").status_code == 403
    assert stored_uploads(session) == before and changed_things(session) == money_before
    assert "Bulk upload" not in page(viewer.get("/team"))
    assert reload(session, BulkUpload, the_upload.id).status == "checked"


def test_another_partners_upload_is_not_found_and_nothing_changes(
    session, partner, operator, make_partner, make_team_member, portal_as
):
    theirs = make_partner()
    stranger = portal_as(make_team_member(theirs, "admin"))
    upload(stranger, HEADER + "create,secret@example.com,Secret Person,USD,10\n", "their-secret-list.csv")
    their_upload = latest_upload(session, theirs)
    before, money_before = stored_uploads(session), changed_things(session)
    base = f"/bulk-uploads/{their_upload.public_id}"
    for path in (base, base + "/progress", base + "/errors.csv"):
        response = operator.get(path)
        assert response.status_code == 404, path
        assert "secret@example.com" not in page(response)
    operator.get("/bulk-uploads")
    assert operator.post(base + "/commit").status_code == 404
    assert stored_uploads(session) == before and changed_things(session) == money_before
    assert reload(session, BulkUpload, their_upload.id).status == "checked"
    assert "their-secret-list.csv" not in page(operator.get("/bulk-uploads"))
