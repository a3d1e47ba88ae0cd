"""CSV bulk upload of consumers: store the file, check it (a dry run) in the queue, commit it in the queue.

A file that can't be read as the documented CSV is refused whole at upload, and nothing is
stored. Otherwise every data row is stored and then checked: each gets an outcome (create,
deactivate, tag, skip, error with the reason) while nothing else changes. Committing applies the
create, deactivate and tag rows a batch at a time; each batch is one write transaction that also
marks its rows committed, so a repeated commit, a retried task or the same file uploaded again
never creates a second wallet or credits twice.
"""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import CursorResult, case, func, insert, update
from sqlmodel import Session, col, select

from app.clock import utcnow
from app.db import on_commit, write_transaction
from app.domain import segments as segment_rules
from app.domain.bulk_uploads import UploadStatus
from app.domain.errors import InvalidInput, NotFound, PartnerFundsTooLow
from app.domain.ledger import AccountKind
from app.domain.money import Money, normalize_currency
from app.domain.paging import Page, within_pages
from app.models import Account, BulkUpload, BulkUploadRow, Consumer, Partner, TeamMember
from app.queue import enqueue, enqueue_or_leave_for_sweep
from app.services import audit, consumers, csv_export, segments
from app.services.partners import partner_funds
from app.services.rows import referenced, row_id

# `tags` (optional, issue #17): the consumer's tags to add, separated by ";" (or commas or spaces), e.g. "vip;new-york".
COLUMNS = ("action", "email", "full_name", "currency", "initial_funds", "tags")
REQUIRED = ("email", "full_name", "currency", "initial_funds")
IGNORED = ("", "error")  # unnamed columns, and the error download's own column (a fixed error file uploads as it is)
ACTIONS = ("create", "deactivate", "tag")
CREATE, DEACTIVATE, TAG, SKIP, ERROR = "create", "deactivate", "tag", "skip", "error"
OUTCOMES = (CREATE, DEACTIVATE, TAG, SKIP, ERROR)
APPLIED = (CREATE, DEACTIVATE, TAG)  # the outcomes a commit carries out
MAX_CELL = 300  # no value of a consumer is longer (an email has at most 254 characters): a longer one means a wrong file
MAX_ROW = 2000  # BulkUploadRow.raw
CHECK_CHUNK = 1000  # rows checked per lookup of existing consumers and per progress update
COMMIT_BATCH = 500  # rows committed per write transaction

TEMPLATE_CSV = (
    "action,email,full_name,currency,initial_funds,tags\r\n"
    "create,jane.doe@example.com,Jane Doe,USD,100.00,vip;new-york\r\n"
    "create,sam.lee@example.com,Sam Lee,USD,0,\r\n"
    "deactivate,former.colleague@example.com,,,,\r\n"
)


def _size(limit: int) -> str:
    return f"{limit / 1_000_000:g} MB" if limit >= 100_000 else f"{limit:,} bytes"


# --- reading the file ----------------------------------------------------------------------


def read_rows(data: bytes, *, max_bytes: int, max_rows: int) -> list[tuple[int, str]]:
    """The file's data rows as (row number, values in COLUMNS order as one CSV line), or InvalidInput for the whole file.

    Tolerant of column order, header case and spacing, a UTF-8 byte order mark, and ; or tab
    as the separator. Row 1 is the first row under the header; blank rows are skipped.
    """
    if len(data) > max_bytes:
        raise InvalidInput(
            f"The file is bigger than {_size(max_bytes)}, the most one upload can be. Split it into smaller files."
        )
    if not data.strip():
        raise InvalidInput("The file is empty.")
    if b"\x00" in data:
        raise InvalidInput("This is not a CSV file. Save the spreadsheet as “CSV UTF-8” and upload that.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("The file is not UTF-8 text. Save the spreadsheet as “CSV UTF-8” and upload that.") from None
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[tuple[int, str]] = []
    try:
        header = next(reader)
        positions = _header_positions(header)
        for number, values in enumerate(reader, start=1):
            if not any(value.strip() for value in values):
                continue
            if len(rows) == max_rows:
                raise InvalidInput(f"The file has more than {max_rows:,} rows; split it into files of at most {max_rows:,} rows.")
            rows.append((number, _canonical_line(number, values, positions, len(header))))
    except csv.Error as exc:
        raise InvalidInput(f"This is not a readable CSV file (line {reader.line_num}: {exc}).") from None
    if not rows:
        raise InvalidInput("The file has a header row but no rows under it.")
    return rows


def _header_positions(header: list[str]) -> dict[str, int]:
    names = [" ".join(name.split()).lower().replace(" ", "_").replace("-", "_") for name in header]
    known = {name: index for index, name in enumerate(names) if name in COLUMNS}
    unknown = [header[index].strip() for index, name in enumerate(names) if name not in COLUMNS and name not in IGNORED]
    twice = sorted({name for name in names if name in COLUMNS and names.count(name) > 1})
    missing = [name for name in REQUIRED if name not in known]
    expected = (
        "The first row must name the columns: action (optional), email, full_name, currency, initial_funds, tags (optional)."
    )
    if unknown:
        raise InvalidInput(f"Unknown column{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)[:200]}. {expected}")
    if twice:
        raise InvalidInput(f"The column {', '.join(twice)} appears more than once. {expected}")
    if missing:
        raise InvalidInput(f"Missing column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}. {expected}")
    return known


def _canonical_line(number: int, values: list[str], positions: dict[str, int], width: int) -> str:
    """The row's values in COLUMNS order (what the error download gives back), then any values beyond the header's columns."""
    values = [csv_export.original_value(value) for value in values]  # our error download, fixed and sent back
    cells = [values[positions[name]] if name in positions and positions[name] < len(values) else "" for name in COLUMNS]
    cells += [value for value in values[width:] if value.strip()]
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(cells)
    line = out.getvalue()[:-2]
    if len(line) > MAX_ROW or any(len(cell) > MAX_CELL for cell in cells):
        raise InvalidInput(
            f"Row {number} is too long for a consumer (a value longer than {MAX_CELL} characters). Is this the right file?"
        )
    return line


def _cells(raw: str) -> list[str]:
    return next(csv.reader(io.StringIO(raw, newline="")), [])


# --- upload --------------------------------------------------------------------------------


def upload_file(session: Session, *, partner: Partner, member: TeamMember, filename: str, data: bytes) -> BulkUpload:
    """Store the file's rows and queue their check; a file that can't be read is refused whole (InvalidInput)."""
    config = current_app.config
    rows = read_rows(data, max_bytes=config["BULK_UPLOAD_MAX_BYTES"], max_rows=config["BULK_UPLOAD_MAX_ROWS"])
    filename = _display_name(filename)
    with write_transaction(session):
        upload = BulkUpload(
            public_id="bup_" + secrets.token_hex(8),
            partner_id=row_id(partner),
            team_member_id=member.id,
            filename=filename,
            sha256=hashlib.sha256(data).hexdigest(),
            total_rows=len(rows),
        )
        session.add(upload)
        session.flush()
        session.execute(insert(BulkUploadRow), [dict(upload_id=upload.id, row_number=number, raw=raw) for number, raw in rows])
        audit.record(
            session,
            partner_id=row_id(partner),
            member=member,
            action="bulk_upload.upload",
            subject_type="bulk_upload",
            subject_id=upload.public_id,
            summary=f"Uploaded {filename} ({len(rows)} rows) to check",
            details={"filename": filename, "rows": len(rows), "sha256": upload.sha256},
        )
        upload_id = upload.id
        on_commit(session, lambda: enqueue("check_bulk_upload", upload_id))
    return upload


def _display_name(filename: str) -> str:
    """The file's own name, printable, without the folders some browsers send."""
    name = "".join(ch for ch in (filename or "") if ch.isprintable()).replace("\\", "/").rsplit("/", 1)[-1]
    return " ".join(name.split())[:200] or "upload.csv"


def partner_upload(session: Session, *, partner: Partner, public_id: str) -> BulkUpload:
    upload = session.exec(
        select(BulkUpload).where(BulkUpload.public_id == public_id, BulkUpload.partner_id == partner.id)
    ).first()
    if upload is None:
        raise NotFound("There is no such upload.")
    return upload


def upload_list(session: Session, *, partner: Partner, page: int = 1, size: int = 20) -> Page[tuple[BulkUpload, str | None]]:
    """One page of the partner's uploads, newest first, each with the email of the team member who uploaded it."""
    total = session.exec(select(func.count()).select_from(BulkUpload).where(BulkUpload.partner_id == partner.id)).one()
    page = within_pages(page, total=total, size=size)
    uploads = session.exec(
        select(BulkUpload, TeamMember.email)
        .join(TeamMember, col(TeamMember.id) == BulkUpload.team_member_id, isouter=True)
        .where(BulkUpload.partner_id == partner.id)
        .order_by(col(BulkUpload.id).desc())
        .offset((page - 1) * size)
        .limit(size)
    ).all()
    return Page(list(uploads), total, page, size)


def earlier_upload_of_same_file(session: Session, upload: BulkUpload) -> BulkUpload | None:
    return session.exec(
        select(BulkUpload)
        .where(
            BulkUpload.partner_id == upload.partner_id, BulkUpload.sha256 == upload.sha256, col(BulkUpload.id) < row_id(upload)
        )
        .order_by(col(BulkUpload.id).desc())
    ).first()


# --- checking (the dry run) ----------------------------------------------------------------


@dataclass
class RowCheck:
    """One row's values as checked; `outcome` is ERROR with `message` when a value is wrong."""

    id: int
    row_number: int
    action: str = CREATE
    email: str = ""
    full_name: str = ""
    currency: str = ""
    amount: int | None = None
    outcome: str = ""
    message: str = ""
    tags: list[str] = field(default_factory=list)  # cleaned (app/domain/segments.py)

    def values(self) -> dict:
        return dict(
            id=self.id,
            action=self.action,
            email=self.email[:254],
            full_name=self.full_name[:200],
            currency=self.currency[:3],
            amount=self.amount,
            outcome=self.outcome,
            message=self.message[:300],
            tags=";".join(self.tags)[:1000],
        )


@dataclass
class FileCheck:
    """Checks a file's rows in order, remembering what came before (duplicates)."""

    partner: Partner
    first_create: dict[tuple[str, str], int] = field(default_factory=dict)  # (email, currency) -> row
    first_row: dict[str, tuple[int, str]] = field(default_factory=dict)  # email -> (row, action)

    def values(self, row_id: int, row_number: int, raw: str) -> RowCheck:
        cells = _cells(raw)
        check = RowCheck(row_id, row_number, email=cells[1].strip(), full_name=cells[2].strip(), currency=cells[3].strip())
        try:
            self._read(check, cells)
            self._not_a_duplicate(check)
        except InvalidInput as problem:
            check.outcome, check.message = ERROR, problem.message
        return check

    def _read(self, check: RowCheck, cells: list[str]) -> None:
        action = cells[0].strip().lower() or CREATE
        if action not in ACTIONS:
            check.action = action[:20]
            raise InvalidInput(f"Unknown action “{cells[0].strip()[:40]}”: use create, deactivate or tag.")
        check.action = action
        if len(cells) > len(COLUMNS):
            raise InvalidInput("This row has more values than the header has columns.")
        check.email = consumers.normalize_email(cells[1], field="email")
        tags_text = cells[5] if len(cells) > 5 else ""
        if action == DEACTIVATE:
            check.full_name = check.currency = ""
            if tags_text.strip():
                raise InvalidInput("A deactivate row adds no tags: leave its tags empty.")
            return
        check.tags = segment_rules.parse_tags(tags_text)
        if action == TAG:
            check.full_name = check.currency = ""
            if not check.tags:
                raise InvalidInput("A tag row needs tags, separated by ; (e.g. vip;new-york).")
            return
        check.full_name = consumers.clean_name(cells[2], field="full_name")
        if not cells[3].strip():
            raise InvalidInput("Enter a currency (e.g. USD).")
        check.currency = normalize_currency(cells[3])
        if check.currency not in self.partner.currency_list:
            raise InvalidInput(
                f"{check.currency} is not a currency of this program (it has {', '.join(self.partner.currency_list)})."
            )
        amount = Money.parse(cells[4].strip() or "0", check.currency, field="initial_funds")
        if amount.amount < 0:
            raise InvalidInput("initial_funds cannot be negative.")
        check.amount = amount.amount

    def _not_a_duplicate(self, check: RowCheck) -> None:
        earlier = self.first_row.get(check.email)
        if check.action == CREATE:
            key = (check.email, check.currency)
            if key in self.first_create:
                raise InvalidInput(f"Duplicate of row {self.first_create[key]} ({check.email}, {check.currency}).")
            if earlier and earlier[1] == DEACTIVATE:
                raise InvalidInput(f"Duplicate of row {earlier[0]}, which deactivates {check.email}.")
            if earlier and earlier[1] == TAG:
                raise InvalidInput(f"Duplicate of row {earlier[0]}, which tags {check.email}: put the tags on this row.")
            self.first_create[key] = check.row_number
        elif earlier:
            raise InvalidInput(f"Duplicate of row {earlier[0]} ({check.email}).")
        self.first_row.setdefault(check.email, (check.row_number, check.action))


@dataclass(frozen=True)
class Known:
    """What exists already for a chunk of rows' emails: consumers and the currencies they have wallets in."""

    consumers: dict[str, tuple[int, bool]]  # email -> (id, is_active)
    wallets: set[tuple[int, str]]  # (consumer id, currency)
    tags: dict[int, list[str]] = field(default_factory=dict)  # consumer id -> the tags they have

    @classmethod
    def load(cls, session: Session, partner: Partner, emails: set[str]) -> Known:
        if not emails:
            return cls({}, set())
        found = session.exec(
            select(Consumer.email, Consumer.id, Consumer.is_active).where(
                Consumer.partner_id == partner.id, col(Consumer.email).in_(emails)
            )
        ).all()
        people = {email: (consumer_id, active) for email, consumer_id, active in found}
        wallets = (
            set(
                session.exec(
                    select(Account.consumer_id, Account.currency).where(
                        col(Account.consumer_id).in_([consumer_id for consumer_id, _ in people.values()]),
                        Account.kind == AccountKind.GENERAL.value,
                    )
                ).all()
            )
            if people
            else set()
        )
        # consumer ids of loaded rows (never None)
        known = cast(dict[str, tuple[int, bool]], people)
        tags = segments.tags_by_consumer(session, [consumer_id for consumer_id, _ in known.values()])
        return cls(known, cast(set[tuple[int, str]], wallets), tags)

    def _new_tags(self, check: RowCheck, person: tuple[int, bool] | None) -> list[str]:
        """The row's tags the consumer doesn't have yet; ERROR when they would have too many."""
        have = self.tags.get(person[0], []) if person else []
        new = [tag for tag in check.tags if tag not in have]
        if len(have) + len(new) > segment_rules.TAGS_PER_CONSUMER:
            raise InvalidInput(
                f"With these tags the consumer would have {len(have) + len(new)}: "
                f"at most {segment_rules.TAGS_PER_CONSUMER} (they have {len(have)})."
            )
        return new

    def decide(self, check: RowCheck) -> None:
        if check.outcome == ERROR:
            return
        person = self.consumers.get(check.email)
        try:
            new_tags = self._new_tags(check, person)
        except InvalidInput as problem:
            check.outcome, check.message = ERROR, problem.message
            return
        if check.action == TAG:
            if person is None:
                check.outcome, check.message = ERROR, "There is no consumer with this email to tag."
            elif not new_tags:
                check.outcome, check.message = SKIP, "Already has these tags."
            else:
                check.outcome, check.message = TAG, f"Gets the tags {', '.join(new_tags)}."
        elif check.action == DEACTIVATE:
            if person is None:
                check.outcome, check.message = ERROR, "There is no consumer with this email to deactivate."
            elif not person[1]:
                check.outcome, check.message = SKIP, "Already deactivated."
            else:
                check.outcome = DEACTIVATE
        elif person is not None and (person[0], check.currency) in self.wallets and new_tags:
            check.outcome, check.message = TAG, f"Already has a {check.currency} wallet: gets the tags {', '.join(new_tags)}."
        elif person is not None and (person[0], check.currency) in self.wallets:
            check.outcome, check.message = SKIP, f"Already has a {check.currency} wallet."
        else:
            check.outcome = CREATE
            check.message = f"Existing consumer: gets a {check.currency} wallet." if person else ""
            if new_tags:
                check.message = f"{check.message} Tags: {', '.join(new_tags)}.".strip()


def check(session: Session, upload_id: int) -> str:
    """The dry run: an outcome for every row, progress after each chunk, nothing else changes.

    Existing consumers and wallets are looked up a chunk of emails at a time, not per row.
    Runs again from the start if the task is retried.
    """
    upload = session.get(BulkUpload, upload_id)
    if upload is None or upload.status != UploadStatus.CHECKING:
        return "skipped"
    partner = referenced(session, Partner, upload.partner_id)
    rows = session.exec(
        select(BulkUploadRow.id, BulkUploadRow.row_number, BulkUploadRow.raw)
        .where(col(BulkUploadRow.upload_id) == upload_id)
        .order_by(col(BulkUploadRow.row_number))
    ).all()
    file_check = FileCheck(partner)
    for start in range(0, len(rows), CHECK_CHUNK):
        checks = [file_check.values(*row) for row in rows[start : start + CHECK_CHUNK]]
        known = Known.load(session, partner, {c.email for c in checks if c.outcome != ERROR})
        for row_check in checks:
            known.decide(row_check)
        with write_transaction(session):
            session.execute(update(BulkUploadRow), [row_check.values() for row_check in checks])
            _set(session, upload_id, processed_rows=start + len(checks))
    with write_transaction(session):
        _set(session, upload_id, status=UploadStatus.CHECKED, **_counts(session, upload_id))
    return UploadStatus.CHECKED


def _set(session: Session, upload_id: int, **values) -> None:
    session.execute(
        update(BulkUpload).where(col(BulkUpload.id) == upload_id).values(**values).execution_options(synchronize_session=False)
    )


def _counts(session: Session, upload_id: int) -> dict[str, int]:
    by_outcome = dict(
        session.exec(
            select(BulkUploadRow.outcome, func.count())
            .where(BulkUploadRow.upload_id == upload_id)
            .group_by(BulkUploadRow.outcome)
        ).all()
    )
    return dict(
        to_create=by_outcome.get(CREATE, 0),
        to_deactivate=by_outcome.get(DEACTIVATE, 0),
        to_tag=by_outcome.get(TAG, 0),
        skipped=by_outcome.get(SKIP, 0),
        errors=by_outcome.get(ERROR, 0),
    )


def fail_check(session: Session, upload_id: int, problem: str) -> None:
    """The check gave up (its last attempt failed): say so instead of showing progress forever."""
    with write_transaction(session):
        session.execute(
            update(BulkUpload)
            .where(col(BulkUpload.id) == upload_id, col(BulkUpload.status) == UploadStatus.CHECKING)
            .values(status=UploadStatus.FAILED, failure=f"Checking stopped: {problem}"[:500])
            .execution_options(synchronize_session=False)
        )


# --- the preview ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FundsNeeded:
    """A currency's initial funds still to commit against the partner's funds now."""

    needed: Money
    available: Money

    @property
    def short(self) -> bool:
        return self.needed > self.available


def funds_needed(session: Session, partner: Partner, upload: BulkUpload) -> list[FundsNeeded]:
    totals = session.exec(
        select(BulkUploadRow.currency, func.sum(BulkUploadRow.amount))
        .where(BulkUploadRow.upload_id == upload.id, BulkUploadRow.outcome == CREATE, col(BulkUploadRow.committed).is_(False))
        .group_by(BulkUploadRow.currency)
        .order_by(BulkUploadRow.currency)
    ).all()
    return [
        FundsNeeded(Money(int(total or 0), currency), partner_funds(session, partner, currency)) for currency, total in totals
    ]


def rows_to_commit(session: Session, upload: BulkUpload) -> int:
    return session.exec(
        select(func.count())
        .select_from(BulkUploadRow)
        .where(
            BulkUploadRow.upload_id == upload.id,
            col(BulkUploadRow.outcome).in_(APPLIED),
            col(BulkUploadRow.committed).is_(False),
        )
    ).one()


def rows_page(session: Session, upload: BulkUpload, *, outcome: str, page: int, per_page: int) -> Page[BulkUploadRow]:
    """One page of the upload's rows (those with `outcome`, or all), in file order; past the last page: no rows.
    All rows: the rows in error come first (in file order), apart from the good ones that follow."""
    conditions = [BulkUploadRow.upload_id == upload.id]
    order: list = [col(BulkUploadRow.row_number)]
    if outcome in OUTCOMES:
        conditions.append(BulkUploadRow.outcome == outcome)
    else:
        order.insert(0, case((col(BulkUploadRow.outcome) == ERROR, 0), else_=1))
    total = session.exec(select(func.count()).select_from(BulkUploadRow).where(*conditions)).one()
    rows = session.exec(
        select(BulkUploadRow).where(*conditions).order_by(*order).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return Page(list(rows), total, page, per_page)


def error_csv(session: Session, upload: BulkUpload) -> str:
    """The rows in error with their original values and the reason: fix them and upload this file again."""
    rows = session.exec(
        select(BulkUploadRow.raw, BulkUploadRow.message)
        .where(col(BulkUploadRow.upload_id) == upload.id, col(BulkUploadRow.outcome) == ERROR)
        .order_by(col(BulkUploadRow.row_number))
    )
    return csv_export.csv_text([[*COLUMNS, "error"], *([*_cells(raw)[: len(COLUMNS)], message] for raw, message in rows)])


# --- commit --------------------------------------------------------------------------------


def request_commit(session: Session, *, partner: Partner, upload: BulkUpload, member: TeamMember) -> int:
    """Queue the commit of the upload's valid rows; how many. Refused while the partner's funds fall short."""
    with write_transaction(session):
        session.refresh(upload)
        if upload.status != UploadStatus.CHECKED:
            raise InvalidInput(
                cast(
                    dict[str, str],
                    {
                        UploadStatus.CHECKING: "This file is still being checked.",
                        UploadStatus.COMMITTING: "This upload is already being committed.",
                        UploadStatus.COMMITTED: "This upload has already been committed.",
                    },
                ).get(upload.status, "This upload can't be committed. Upload the file again.")
            )
        count = rows_to_commit(session, upload)
        if not count:
            raise InvalidInput("There are no valid rows left to commit.")
        short = [need for need in funds_needed(session, partner, upload) if need.short]
        if short:
            raise PartnerFundsTooLow(
                "Partner funds are too low for this upload: "
                + "; ".join(f"{need.needed} needed, {need.available} available" for need in short)
                + ". Add funds, then commit."
            )
        claimed = cast(
            CursorResult,
            session.execute(
                update(BulkUpload)
                .where(col(BulkUpload.id) == upload.id, col(BulkUpload.status) == UploadStatus.CHECKED)
                .values(status=UploadStatus.COMMITTING, failure="")
                .execution_options(synchronize_session=False)
            ),
        ).rowcount
        if not claimed:
            raise InvalidInput("This upload is already being committed.")
        audit.record(
            session,
            partner_id=row_id(partner),
            member=member,
            action="bulk_upload.commit",
            subject_type="bulk_upload",
            subject_id=upload.public_id,
            summary=f"Committing {count} rows of {upload.filename}",
            details={
                "rows": count,
                "to_create": upload.to_create,
                "to_deactivate": upload.to_deactivate,
                "to_tag": upload.to_tag,
            },
        )
        upload_id, member_id = upload.id, member.id
        on_commit(session, lambda: enqueue("commit_bulk_upload", upload_id, member_id))
    return count


class _BatchTaken(Exception):
    """Another worker committed these rows first."""


def commit(session: Session, upload_id: int, member_id: int | None) -> str:
    """Create and deactivate the valid rows, a batch per write transaction, then record the outcome.

    Stops at a batch the partner's funds can't pay for: what was committed stays, the upload
    goes back to `checked` with the reason, and committing again continues with the rest.
    """
    upload = session.get(BulkUpload, upload_id)
    if upload is None or upload.status != UploadStatus.COMMITTING:
        return "skipped"
    partner = referenced(session, Partner, upload.partner_id)
    member = session.get(TeamMember, member_id) if member_id else None
    while True:
        # Plain columns, not ORM rows: the batch's write transaction begins with a rollback that would expire them.
        batch: Sequence[Any] = session.exec(
            select(  # type: ignore[call-overload]  # sqlmodel's select() is typed for at most 4 columns
                BulkUploadRow.id,
                BulkUploadRow.row_number,
                BulkUploadRow.outcome,
                BulkUploadRow.email,
                BulkUploadRow.full_name,
                BulkUploadRow.currency,
                BulkUploadRow.amount,
                BulkUploadRow.tags,
            )
            .where(
                BulkUploadRow.upload_id == upload_id,
                col(BulkUploadRow.outcome).in_(APPLIED),
                col(BulkUploadRow.committed).is_(False),
            )
            .order_by(BulkUploadRow.row_number)
            .limit(COMMIT_BATCH)
        ).all()
        if not batch:
            return _finish(session, upload, member)
        try:
            _commit_batch(session, partner, upload, batch, actor=audit.actor_label(member))
        except _BatchTaken:
            continue
        except PartnerFundsTooLow:
            return _finish(
                session,
                upload,
                member,
                failure=(
                    f"Partner funds ran out at row {batch[0].row_number}: the rows before it were committed. "
                    "Add funds, then commit the rest."
                ),
            )


def _commit_batch(session: Session, partner: Partner, upload: BulkUpload, batch: Sequence[Any], *, actor: str) -> None:
    with write_transaction(session):
        ids = [row.id for row in batch]
        claimed = cast(
            CursorResult,
            session.execute(
                update(BulkUploadRow)
                .where(col(BulkUploadRow.id).in_(ids), col(BulkUploadRow.committed).is_(False))
                .values(committed=True)
                .execution_options(synchronize_session=False)
            ),
        ).rowcount
        if claimed != len(ids):
            raise _BatchTaken()
        creates = [row for row in batch if row.outcome == CREATE]
        created = consumers.create_consumers_in_bulk(
            session,
            partner=partner,
            actor=actor,
            wallets=[consumers.BulkWallet(row.email, row.full_name, Money(row.amount or 0, row.currency)) for row in creates],
        )
        deactivations = [row for row in batch if row.outcome == DEACTIVATE]
        deactivated = consumers.deactivate_in_bulk(session, partner=partner, emails=[row.email for row in deactivations])
        found_done = [
            dict(id=row.id, outcome=SKIP, message=f"Already had a {row.currency} wallet when committed.")
            for row in creates
            if (row.email, row.currency) in created.skipped
        ]
        found_done += [
            dict(id=row.id, outcome=SKIP, message="Already deactivated when committed.")
            for row in deactivations
            if row.email not in deactivated
        ]
        if found_done:
            session.execute(update(BulkUploadRow), found_done)
        _tag(session, partner, upload, [row for row in batch if row.outcome in (CREATE, TAG) and row.tags], actor=actor)
        session.execute(
            update(BulkUpload)
            .where(col(BulkUpload.id) == upload.id)
            .values(done_rows=BulkUpload.done_rows + len(batch))
            .execution_options(synchronize_session=False)
        )
        welcome = created.new_consumer_ids
        if welcome:
            # One task for the batch; if it is lost (the queue unreachable, a worker gone), `welcome_forgotten` sends them.
            on_commit(session, lambda: enqueue_or_leave_for_sweep("welcome_bulk_consumers", welcome))


def _tag(session: Session, partner: Partner, upload: BulkUpload, rows: Sequence[Any], *, actor: str) -> None:
    """Inside the batch's transaction, after its creates: add the rows' tags to their consumers (campaigns for
    those tags allocate to them in the same transaction: app/services/segments.py)."""
    if not rows:
        return
    ids = dict(
        cast(
            Sequence[tuple[str, int]],
            session.exec(
                select(Consumer.email, Consumer.id).where(
                    Consumer.partner_id == partner.id, col(Consumer.email).in_({row.email for row in rows})
                )
            ).all(),
        )
    )
    wanted: dict[int, list[str]] = {}
    for row in rows:
        if row.email in ids:
            wanted.setdefault(ids[row.email], []).extend(tag for tag in row.tags.split(";") if tag)
    segments.add_tags_in_bulk(session, partner_id=row_id(partner), tags=wanted, actor=actor, upload=upload.public_id)


def _finish(session: Session, upload: BulkUpload, member: TeamMember | None, failure: str = "") -> str:
    with write_transaction(session):
        status = UploadStatus.CHECKED if failure else UploadStatus.COMMITTED
        finished = cast(
            CursorResult,
            session.execute(
                update(BulkUpload)
                .where(col(BulkUpload.id) == upload.id, col(BulkUpload.status) == UploadStatus.COMMITTING)
                .values(
                    status=status, failure=failure, committed_at=None if failure else utcnow(), **_counts(session, row_id(upload))
                )
                .execution_options(synchronize_session=False)
            ),
        ).rowcount
        if not finished:  # another worker finished it
            return "skipped"
        committed = dict(
            session.exec(
                select(BulkUploadRow.outcome, func.count())
                .where(BulkUploadRow.upload_id == upload.id, col(BulkUploadRow.committed).is_(True))
                .group_by(BulkUploadRow.outcome)
            ).all()
        )
        counts = {
            "created": committed.get(CREATE, 0),
            "deactivated": committed.get(DEACTIVATE, 0),
            "skipped": committed.get(SKIP, 0),
            "remaining": rows_to_commit(session, upload),
        } | ({"tagged": committed[TAG]} if committed.get(TAG) else {})
        summary = (
            f"Committed {upload.filename}: {counts['created']} created, {counts['deactivated']} deactivated, "
            + (f"{counts['tagged']} tagged, " if counts.get("tagged") else "")
            + f"{counts['skipped']} skipped"
            + (f", {counts['remaining']} not committed yet" if failure else "")
        )
        audit.record(
            session,
            partner_id=upload.partner_id,
            member=member,
            action="bulk_upload.committed",
            subject_type="bulk_upload",
            subject_id=upload.public_id,
            summary=summary,
            details=counts,
        )
    return status


def stop_commit(session: Session, upload_id: int, member_id: int | None, problem: str) -> None:
    """The commit gave up (its last attempt failed): what was committed stays, committing again continues."""
    upload = session.get(BulkUpload, upload_id)
    if upload is not None:
        member = session.get(TeamMember, member_id) if member_id else None
        _finish(session, upload, member, failure=f"Committing stopped ({problem[:200]}). Commit again to continue.")


def welcome(session: Session, consumer_ids: list[int]) -> int:
    """The temporary passwords and welcome emails of a batch of consumers a commit created, in one transaction;
    how many were queued (none for those already welcomed)."""
    return consumers.send_bulk_welcomes(session, consumer_ids=consumer_ids)


def welcome_forgotten(session: Session, older_than: timedelta = timedelta(minutes=15)) -> int:
    """Welcome the consumers a commit created whose welcome task never ran (queued while the queue was unreachable,
    or lost with a worker): created a while ago and still without a password. How many were welcomed."""
    cutoff = utcnow() - older_than
    welcomed, after = 0, 0
    while True:
        waiting = [
            row_id(consumer)
            for consumer in session.exec(
                select(Consumer)
                .where(Consumer.password_hash == "", col(Consumer.created_at) < cutoff, col(Consumer.id) > after)
                .order_by(col(Consumer.id))
                .limit(COMMIT_BATCH)
            )
        ]
        if not waiting:
            return welcomed
        welcomed += consumers.send_bulk_welcomes(session, consumer_ids=waiting)
        after = waiting[-1]
