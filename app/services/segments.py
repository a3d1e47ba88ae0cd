"""Segments (issue #17): a partner's tags on its consumers, set from the portal (one consumer at a time), the
API (`PUT /customers/<id>/tags`) and the bulk upload (column `tags`). The rules of a tag are in
app/domain/segments.py.

Every change is one write transaction that holds the partner's row first (partners.hold_partner), writes the
tags and the audit record, and then lets the campaigns for those tags act in the same transaction
(campaigns.tags_changed): a consumer who gets a campaign's tag joins it with its allocation, one who loses it
is marked so later allocations skip them (they keep what they were given).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, insert
from sqlmodel import Session, col, select

from app.clock import utcnow
from app.db import remember, remembered, write_transaction
from app.domain import segments as rules
from app.domain.errors import InvalidInput
from app.models import Consumer, ConsumerTag, TeamMember
from app.services import audit, campaigns, partners
from app.services.rows import row_id, table_of


@dataclass(frozen=True)
class TagsChanged:
    tags: list[str]  # the consumer's tags now, sorted
    added: list[str]
    removed: list[str]
    joined: list[int]  # ids of the campaigns they joined (with an allocation) because of a tag

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


# --- reading -----------------------------------------------------------------------------------


def tags_by_consumer(session: Session, consumer_ids: Iterable[int]) -> dict[int, list[str]]:
    """Each consumer's tags, sorted (a consumer without tags is left out)."""
    ids = sorted(set(consumer_ids))
    found: dict[int, list[str]] = {}
    for start in range(0, len(ids), 500):
        rows = session.exec(
            select(ConsumerTag.consumer_id, ConsumerTag.tag)
            .where(col(ConsumerTag.consumer_id).in_(ids[start : start + 500]))
            .order_by(col(ConsumerTag.consumer_id), col(ConsumerTag.tag))
        ).all()
        for consumer_id, tag in rows:
            found.setdefault(consumer_id, []).append(tag)
    return found


def tags_of(session: Session, consumer: Consumer) -> list[str]:
    """The consumer's tags, sorted."""
    return tags_by_consumer(session, [row_id(consumer)]).get(row_id(consumer), [])


def consumer_tag_set(session: Session, consumer: Consumer) -> frozenset[str]:
    """The consumer's tags, read once a request (until it writes): the store's pages ask for them to price bonuses."""
    key = ("tags", consumer.id)
    held = remembered(session, key)
    if held is None:
        held = frozenset(tags_of(session, consumer))
        remember(session, key, held)
    return held


def partner_tags(session: Session, partner_id: int) -> list[str]:
    """Every tag the partner's consumers have now, sorted (the portal's suggestions)."""
    return list(
        session.exec(
            select(ConsumerTag.tag).where(ConsumerTag.partner_id == partner_id).distinct().order_by(col(ConsumerTag.tag))
        ).all()
    )


# --- changing ----------------------------------------------------------------------------------


def _write(
    session: Session, *, partner_id: int, changes: Mapping[int, tuple[Sequence[str], Sequence[str]]], actor: str
) -> dict[int, list[campaigns.MemberResult]]:
    """Inside a write transaction holding the partner: add and remove each consumer's tags ({id: (added, removed)}),
    then let the campaigns for those tags act."""
    now = utcnow()
    rows = [
        dict(partner_id=partner_id, consumer_id=consumer_id, tag=tag, created_at=now)
        for consumer_id, (added, _removed) in changes.items()
        for tag in added
    ]
    if rows:
        session.execute(insert(table_of(ConsumerTag)), rows)
    for consumer_id, (_added, removed) in changes.items():
        if removed:
            session.execute(
                delete(table_of(ConsumerTag)).where(
                    table_of(ConsumerTag).c.consumer_id == consumer_id, table_of(ConsumerTag).c.tag.in_(list(removed))
                )
            )
    touched = sorted(consumer_id for consumer_id, (added, removed) in changes.items() if added or removed)
    tags = sorted({tag for added, removed in changes.values() for tag in (*added, *removed)})
    return campaigns.tags_changed(session, partner_id=partner_id, consumer_ids=touched, tags=tags, actor=actor, now=now)


def _change(
    session: Session,
    *,
    consumer: Consumer,
    decide,
    by: TeamMember | None,
    actor: str,
) -> TagsChanged:
    """One consumer's tags: `decide(current tags)` gives the tags they should have (cleaned); written with its audit."""
    actor = actor or audit.actor_label(by)
    with write_transaction(session):
        partners.hold_partner(session, consumer.partner_id)  # tag changes of this partner's consumers: one at a time
        consumer_id = row_id(consumer)
        current = tags_by_consumer(session, [consumer_id]).get(consumer_id, [])
        wanted = decide(current)
        rules.check_count(wanted)
        added = [tag for tag in wanted if tag not in current]
        removed = [tag for tag in current if tag not in wanted]
        if not added and not removed:
            return TagsChanged(sorted(current), [], [], [])
        results = _write(session, partner_id=consumer.partner_id, changes={consumer_id: (added, removed)}, actor=actor)
        now_tags = sorted(wanted)
        audit.record(
            session,
            partner_id=consumer.partner_id,
            member=by,
            actor=actor,
            action="consumer.tags",
            subject_type="consumer",
            subject_id=consumer_id,
            summary=f"{consumer.email}: "
            + "; ".join(
                part
                for part in (
                    f"tagged {', '.join(added)}" if added else "",
                    f"untagged {', '.join(removed)}" if removed else "",
                )
                if part
            ),
            details={"added": added, "removed": removed, "tags": now_tags},
        )
    joined = [
        campaign_id
        for campaign_id, outcomes in results.items()
        if any(r.outcome is campaigns.MemberOutcome.ALLOCATED for r in outcomes)
    ]
    return TagsChanged(now_tags, added, removed, joined)


def set_tags(
    session: Session, *, consumer: Consumer, tags: Iterable[str], by: TeamMember | None = None, actor: str = ""
) -> TagsChanged:
    """Replace the consumer's tags (the API's PUT): InvalidInput naming the tag at fault, nothing changed."""
    wanted = rules.clean_tags(tags)
    return _change(session, consumer=consumer, decide=lambda current: wanted, by=by, actor=actor)


def add_tags(
    session: Session, *, consumer: Consumer, tags: Iterable[str], by: TeamMember | None = None, actor: str = ""
) -> TagsChanged:
    """Add tags to the ones the consumer has (the portal's "Add tag", which takes several separated by ; or ,)."""
    new = rules.clean_tags(tags)
    if not new:
        raise InvalidInput("Enter a tag to add.", field="tags")
    return _change(session, consumer=consumer, decide=lambda current: list(dict.fromkeys([*current, *new])), by=by, actor=actor)


def remove_tag(session: Session, *, consumer: Consumer, tag: str, by: TeamMember | None = None, actor: str = "") -> TagsChanged:
    gone = rules.clean_tag(tag)
    return _change(session, consumer=consumer, decide=lambda current: [t for t in current if t != gone], by=by, actor=actor)


def join_campaigns_for_tags(session: Session, *, consumer: Consumer, actor: str = "system") -> None:
    """Inside a write transaction holding the partner: the campaigns for the consumer's tags take them if they
    can now (e.g. they were deactivated when they got the tag, and are active again)."""
    tags = tags_of(session, consumer)
    if tags:
        campaigns.tags_changed(session, partner_id=consumer.partner_id, consumer_ids=[row_id(consumer)], tags=tags, actor=actor)


def add_tags_in_bulk(
    session: Session, *, partner_id: int, tags: Mapping[int, Sequence[str]], actor: str, upload: str = ""
) -> int:
    """For the bulk upload's commit, inside its batch's write transaction: add each consumer's tags ({id: tags},
    cleaned) to the ones they have. A consumer stays within TAGS_PER_CONSUMER: tags past it are left out
    (the check of the file refused such rows already; this only guards against changes since). How many
    consumers got a tag."""
    with write_transaction(session):
        partners.hold_partner(session, partner_id)
        current = tags_by_consumer(session, tags)
        changes: dict[int, tuple[list[str], list[str]]] = {}
        for consumer_id, wanted in tags.items():
            have = current.get(consumer_id, [])
            room = max(0, rules.TAGS_PER_CONSUMER - len(have))
            added = [tag for tag in dict.fromkeys(wanted) if tag not in have][:room]
            if added:
                changes[consumer_id] = (added, [])
        if not changes:
            return 0
        _write(session, partner_id=partner_id, changes=changes, actor=actor)
        audit.record(
            session,
            partner_id=partner_id,
            member=None,
            actor=actor,
            action="consumer.tags_bulk",
            subject_type="bulk_upload" if upload else "",
            subject_id=upload,
            summary=f"Tagged {len(changes)} consumer{'' if len(changes) == 1 else 's'}"
            + (f" from upload {upload}" if upload else ""),
            details={"consumers": len(changes), "tags": sorted({tag for added, _ in changes.values() for tag in added})},
        )
    return len(changes)
