"""operations: nothing to change in the schema

The chaos harness (tests/reliability) found no need for an outbox of queued work: work queued after a commit
whose queue is unreachable stays findable in its own rows (a pending order, a queued email, a pending webhook
delivery), and the periodic sweeps queue it again (app.queue.enqueue_or_leave_for_sweep). The operator's view
(/metrics, /healthz, /readyz) reads existing columns through existing indexes. This revision keeps its place in
the chain and changes nothing.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 21:00:00.000000
"""


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # nothing needed (see the docstring)


def downgrade() -> None:
    pass
