"""The audit log becomes tamper-evident: a hash chain per case, and per actor for the rows without a
case (prev_hash, row_hash), rows already
there linked in id order, and triggers that refuse UPDATE and DELETE.

Revision ID: 0014
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.audit import guard
from app.audit.chain import GENESIS, partition, row_hash

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("row_hash", sa.String(64), nullable=True))
    # The tail of a case-less partition (one chain per actor) is found without a scan.
    op.create_index("ix_audit_log_case_id_actor_id", "audit_log", ["case_id", "actor", "id"])
    bind = op.get_bind()
    log = sa.table("audit_log", *(sa.column(name) for name in (
        "id", "at", "actor", "case_id", "action", "task_id", "task_bpmn_id", "task_name", "source",
        "prev_hash", "row_hash")), sa.column("changes", sa.JSON))
    tails: dict = {}
    last = 0
    while True:  # in batches: a city's audit log does not fit in memory
        rows = bind.execute(sa.select(log).where(log.c.id > last).order_by(log.c.id).limit(5000)).mappings().all()
        if not rows:
            break
        for row in rows:
            row = dict(row)
            key = partition(row["case_id"], row["actor"])
            prev = tails.get(key, GENESIS)
            tails[key] = digest = row_hash(prev, row)
            bind.execute(log.update().where(log.c.id == row["id"]).values(prev_hash=prev, row_hash=digest))
        last = rows[-1]["id"]
    for statement in guard.statements(bind.dialect.name, install=True):
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    for statement in guard.statements(bind.dialect.name, install=False):
        op.execute(statement)
    op.drop_index("ix_audit_log_case_id_actor_id", table_name="audit_log")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("row_hash")
        batch.drop_column("prev_hash")
