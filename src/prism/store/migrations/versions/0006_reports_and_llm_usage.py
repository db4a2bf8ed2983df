"""reports (insight_reports) and Prism's own LLM usage (llm_usage)

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "insight_reports",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("developer_id", sa.String(length=36), nullable=False),
        sa.Column("requested_by", sa.String(length=36), nullable=False),
        sa.Column("family", sa.String(length=4), nullable=False),
        sa.Column("scope", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("requested_language", sa.String(length=200), nullable=True),
        sa.Column("window_kind", sa.String(length=16), nullable=False),
        sa.Column("window_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_to", sa.DateTime(timezone=True), nullable=False),
        sa.Column("writer", sa.String(length=64), nullable=True),
        sa.Column("writer_version", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("content", sa.JSON(), nullable=True),
        sa.Column("markdown", sa.Text(), nullable=True),
        sa.Column("llm_input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("llm_output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("llm_cost_micro_usd", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("insight_reports", schema=None) as batch_op:
        batch_op.create_index(
            "ix_insight_reports_dev",
            ["developer_id", "family", "scope", "created_at"],
            unique=False,
        )
        batch_op.create_index("ix_insight_reports_status", ["status", "updated_at"], unique=False)

    op.create_table(
        "llm_usage",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("task", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("ref", sa.String(length=80), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_micro_usd", sa.BigInteger(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("llm_usage", schema=None) as batch_op:
        batch_op.create_index("ix_llm_usage_at", ["at"], unique=False)
        batch_op.create_index("ix_llm_usage_ref", ["ref"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("llm_usage", schema=None) as batch_op:
        batch_op.drop_index("ix_llm_usage_ref")
        batch_op.drop_index("ix_llm_usage_at")
    op.drop_table("llm_usage")
    with op.batch_alter_table("insight_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_insight_reports_status")
        batch_op.drop_index("ix_insight_reports_dev")
    op.drop_table("insight_reports")
