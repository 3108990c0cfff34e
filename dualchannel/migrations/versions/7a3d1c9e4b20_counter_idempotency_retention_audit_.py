"""counter survives outages, bureau-tuned surveillance (issue 23)

The creation time of `Idempotency-Key` records is indexed, so `dualchannel idempotency purge`
deletes the old ones without a full scan.

Revision ID: 7a3d1c9e4b20
Revises: 5c2f888e98cb
Create Date: 2026-12-03 15:30:00
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op


revision = '7a3d1c9e4b20'
down_revision = '5c2f888e98cb'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('idempotency_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idempotency_key_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('idempotency_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idempotency_key_created_at'))
