"""institution location (issue 20)

A designated institution's location (WGS-84), so a physician's pharmacy choices are sorted by
distance from the hospital rather than from its county's centre. Nullable: institutions
registered before have none (the county centre stays their default).

Revision ID: a20b1c2d3e4f
Revises: 7a3d1c9e4b20
Create Date: 2026-12-03 15:45:00
"""

import sqlalchemy as sa
from alembic import op


revision = 'a20b1c2d3e4f'
down_revision = '7a3d1c9e4b20'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('institution', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lat', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('lon', sa.Float(), nullable=True))


def downgrade():
    with op.batch_alter_table('institution', schema=None) as batch_op:
        batch_op.drop_column('lon')
        batch_op.drop_column('lat')
