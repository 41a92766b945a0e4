"""Public-holiday calendars chosen by people, not guessed from their Slack language.

- member_settings.holiday_country: the person's own choice on the App Home (ISO code; NULL = the team's default).
- teams.holiday_country: the team's default calendar, set in /oncall setup (NULL = no calendar for people without their own).

Revision ID: 0018
Revises: 0014
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("member_settings", sa.Column("holiday_country", sa.String(8), nullable=True))
    op.add_column("teams", sa.Column("holiday_country", sa.String(8), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+, PostgreSQL), not a batch table copy: copying `teams` on SQLite would
    # cascade-delete every row that references a team (crises, rosters).
    op.execute("ALTER TABLE teams DROP COLUMN holiday_country")
    op.execute("ALTER TABLE member_settings DROP COLUMN holiday_country")
