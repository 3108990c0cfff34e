"""counter survives outages, bureau-tuned surveillance (issue 23)

The creation time of `Idempotency-Key` records is indexed, so `dualchannel idempotency purge`
deletes the old ones without a full scan. A region's own audit thresholds (audit_threshold),
every change of them with who, when and why (audit_threshold_change), and the exemptions of
the audit scan (audit_exemption).

Revision ID: 7a3d1c9e4b20
Revises: 5c2f888e98cb
Create Date: 2026-12-03 15:30:00
"""

import sqlalchemy as sa
from alembic import op


revision = '7a3d1c9e4b20'
down_revision = '5c2f888e98cb'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('idempotency_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idempotency_key_created_at'), ['created_at'], unique=False)
    op.create_table('audit_exemption',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region', sa.String(length=6), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('value', sa.String(length=200), nullable=False),
    sa.Column('rule', sa.String(length=40), nullable=True),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_exemption'))
    )
    with op.batch_alter_table('audit_exemption', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_exemption_region'), ['region'], unique=False)

    op.create_table('audit_threshold',
    sa.Column('region', sa.String(length=6), nullable=False),
    sa.Column('thresholds', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('region', name=op.f('pk_audit_threshold'))
    )
    op.create_table('audit_threshold_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region', sa.String(length=6), nullable=False),
    sa.Column('changed_at', sa.DateTime(), nullable=False),
    sa.Column('changed_by', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('before', sa.JSON(), nullable=False),
    sa.Column('after', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_threshold_change'))
    )
    with op.batch_alter_table('audit_threshold_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_threshold_change_region'), ['region'], unique=False)


def downgrade():
    with op.batch_alter_table('audit_threshold_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_threshold_change_region'))

    op.drop_table('audit_threshold_change')
    op.drop_table('audit_threshold')
    with op.batch_alter_table('audit_exemption', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_exemption_region'))

    op.drop_table('audit_exemption')
    with op.batch_alter_table('idempotency_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idempotency_key_created_at'))
