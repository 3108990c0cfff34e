"""policy fidelity: batch first_year_end, consistency_evaluated of products and drugs, drug follows

Revision ID: 6deb2c3053ec
Revises: e758140e6181
Create Date: 2026-12-03 11:50:08.675765

Issue 21 (policy fidelity). Existing drugs and products count as consistency-evaluated (the
behaviour before this revision); existing batches keep anniversary agreement years.
"""

import sqlalchemy as sa
from alembic import op


revision = '6deb2c3053ec'
down_revision = 'e758140e6181'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('drug', schema=None) as batch_op:
        batch_op.add_column(sa.Column('consistency_evaluated', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column('follows', sa.String(length=32), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_drug_follows_drug'), 'drug', ['follows'], ['code'])

    with op.batch_alter_table('procurement_batch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_year_end', sa.Date(), nullable=True))

    with op.batch_alter_table('procurement_product', schema=None) as batch_op:
        batch_op.add_column(sa.Column('consistency_evaluated', sa.Boolean(), nullable=False, server_default=sa.true()))



def downgrade():
    with op.batch_alter_table('procurement_product', schema=None) as batch_op:
        batch_op.drop_column('consistency_evaluated')

    with op.batch_alter_table('procurement_batch', schema=None) as batch_op:
        batch_op.drop_column('first_year_end')

    with op.batch_alter_table('drug', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_drug_follows_drug'), type_='foreignkey')
        batch_op.drop_column('follows')
        batch_op.drop_column('consistency_evaluated')

