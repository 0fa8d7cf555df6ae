"""full-text indexes for the case search: SQLite FTS5 (trigram), PostgreSQL pg_trgm GIN

Revision ID: 0023
Revises: 0022

The text search ("内容或地址") scanned every case: p95 50 ms at 100 000 cases, seconds at a
district's yearly volume. The DDL lives in app/cases/fulltext.py (one place for migrations and
the schema comparison); figures in bench/worklist.py.
"""
from alembic import op

from app.cases import fulltext


revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    fulltext.create(op)


def downgrade() -> None:
    fulltext.drop(op)
