"""Re-encrypting what is stored encrypted with the newest of `ENCRYPTION_KEYS`, so an old key can be retired.

Every encrypted column is listed in ENCRYPTED. `reencrypt_all` walks each table in id order, in batches, and
writes each value again encrypted with the first key (MultiFernet.rotate: decrypt with whichever key
made it, encrypt with the first). A value is only replaced if it still holds what was read (compare and set), so
a row changed meanwhile is left as its writer left it (already under the newest key). A value no configured key
can read is counted and named, never changed. Safe to run again, and while web and workers run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import CursorResult, update
from sqlmodel import Session, col, select

from app.db import write_transaction
from app.models import ApiKey, EmailMessage, Order, WebhookEndpoint
from app.security import Encryptor

ENCRYPTED = (
    (Order, ("card_number_encrypted", "card_pin_encrypted", "redemption_url_encrypted")),
    (EmailMessage, ("html_encrypted", "text_encrypted")),
    (ApiKey, ("hmac_secret_encrypted",)),
    (WebhookEndpoint, ("secret_encrypted",)),
)
BATCH = 500


@dataclass
class Reencrypted:
    values: dict[str, int] = field(default_factory=dict)  # table -> values written again under the newest key
    unreadable: list[str] = field(default_factory=list)  # "table.column id=N": no configured key reads it


def reencrypt_all(session: Session, encryptor: Encryptor, *, batch: int = BATCH) -> Reencrypted:
    done = Reencrypted()
    for model, columns in ENCRYPTED:
        table = str(model.__tablename__)
        done.values[table] = 0
        last = 0
        while True:
            rows = session.exec(
                select(model.id, *(getattr(model, c) for c in columns))
                .where(col(model.id) > last)
                .order_by(col(model.id))
                .limit(batch)
            ).all()
            if not rows:
                break
            with write_transaction(session):
                for row_id, *values in rows:
                    for column, value in zip(columns, values, strict=True):
                        if not value:
                            continue
                        try:
                            rotated = encryptor.rotate(value)
                        except ValueError:
                            done.unreadable.append(f"{table}.{column} id={row_id}")
                            continue
                        where = (col(model.id) == row_id, getattr(model, column) == value)
                        written = cast(CursorResult, session.execute(update(model).where(*where).values({column: rotated})))
                        done.values[table] += written.rowcount
            last = rows[-1][0]
    return done
