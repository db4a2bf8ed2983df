"""score_v3_prompt_rubrics.id holds `<sub_session_id>:<n>` (38+ characters): widen it to 80.

SQLite never enforced the old length of 36; PostgreSQL refused every prompt rubric, so no arc
with prompts could be judged there (found by the scale-mode suite).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from prism.store.db import PG_SCHEMA

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "score_v3_prompt_rubrics",
            "id",
            existing_type=sa.String(length=36),
            type_=sa.String(length=80),
            existing_nullable=False,
            schema=PG_SCHEMA,  # ALTER is not schema-translated like CREATE
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "score_v3_prompt_rubrics",
            "id",
            existing_type=sa.String(length=80),
            type_=sa.String(length=36),
            existing_nullable=False,
            schema=PG_SCHEMA,  # ALTER is not schema-translated like CREATE
        )
