"""drop dispensed_pack's index on prescription_id alone (issue 18)

The unique constraint on (prescription_id, trace_code) already serves every lookup by
prescription, from its first column; the second index only cost an insert per dispensed pack.

Revision ID: b7e2d9f4c1a8
Revises: a20b1c2d3e4f
Create Date: 2026-12-04 12:30:00
"""

from alembic import op


revision = 'b7e2d9f4c1a8'
down_revision = 'a20b1c2d3e4f'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('dispensed_pack', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dispensed_pack_prescription_id'))


def downgrade():
    with op.batch_alter_table('dispensed_pack', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dispensed_pack_prescription_id'), ['prescription_id'], unique=False)
