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
    with op.batch_alter_table("member_settings") as batch:
        batch.add_column(sa.Column("holiday_country", sa.String(8), nullable=True))
    with op.batch_alter_table("teams") as batch:
        batch.add_column(sa.Column("holiday_country", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("teams") as batch:
        batch.drop_column("holiday_country")
    with op.batch_alter_table("member_settings") as batch:
        batch.drop_column("holiday_country")
