"""reason codes and not_dispensed: prescription_event.reason_code, wider statuses

Revision ID: 464137a468aa
Revises: 6deb2c3053ec
Create Date: 2026-12-03 12:47:01.540545
"""

import sqlalchemy as sa
from alembic import op


revision = '464137a468aa'
down_revision = '6deb2c3053ec'
branch_labels = None
depends_on = None


def upgrade():
    # Return, cancel and not-dispensed record a published reason code (rules.REASONS), grouped
    # by reports and flags; `not_dispensed` (13 characters) needs wider status columns.
    with op.batch_alter_table('prescription', schema=None) as batch_op:
        batch_op.alter_column('status',
               existing_type=sa.VARCHAR(length=12),
               type_=sa.String(length=16),
               existing_nullable=False)

    with op.batch_alter_table('prescription_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason_code', sa.String(length=40), nullable=True))
        batch_op.alter_column('from_status',
               existing_type=sa.VARCHAR(length=12),
               type_=sa.String(length=16),
               existing_nullable=True)
        batch_op.alter_column('to_status',
               existing_type=sa.VARCHAR(length=12),
               type_=sa.String(length=16),
               existing_nullable=True)
        batch_op.create_index(batch_op.f('ix_prescription_event_reason_code'), ['reason_code'], unique=False)



def downgrade():
    with op.batch_alter_table('prescription_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_prescription_event_reason_code'))
        batch_op.alter_column('to_status',
               existing_type=sa.String(length=16),
               type_=sa.VARCHAR(length=12),
               existing_nullable=True)
        batch_op.alter_column('from_status',
               existing_type=sa.String(length=16),
               type_=sa.VARCHAR(length=12),
               existing_nullable=True)
        batch_op.drop_column('reason_code')

    with op.batch_alter_table('prescription', schema=None) as batch_op:
        batch_op.alter_column('status',
               existing_type=sa.String(length=16),
               type_=sa.VARCHAR(length=12),
               existing_nullable=False)

