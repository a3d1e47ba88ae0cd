"""launch day: temporary password keyed hash (no schema change)

Temporary passwords (welcome emails, invitations, bulk onboarding) are now stored as
"$hmac-sha256$<hex>" (app/security.hash_temporary_password) in the same password_hash column,
which already holds 255 characters; Argon2 hashes made before this still verify. Nothing to migrate.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 22:15:00.000000
"""

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # no schema change: see the docstring


def downgrade() -> None:
    pass  # no schema change: see the docstring
