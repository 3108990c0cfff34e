"""indexes for scale: scoped keyset pages and region prefixes

Lists are newest first within a scope (a physician's, a pharmacy's, its inbox), so each scope
column now leads an index ending in the id; bureau reads match region prefixes (LIKE '3708%'),
which PostgreSQL answers from an index only with pattern operators unless the database's
collation is C. Measured with bench/scale.py.

Revision ID: 3aa608075411
Revises: f26c01026282
Create Date: 2026-11-25 21:50:16.872855
"""

import sqlalchemy as sa
from alembic import op


revision = '3aa608075411'
down_revision = 'f26c01026282'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('flag', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flag_region'))
        batch_op.create_index('ix_flag_region_prefix', ['region'], unique=False, postgresql_ops={'region': 'varchar_pattern_ops'})

    with op.batch_alter_table('prescription', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_prescription_patient_region'))
        batch_op.drop_index(batch_op.f('ix_prescription_pharmacy_code'))
        batch_op.drop_index(batch_op.f('ix_prescription_physician_code'))
        batch_op.create_index('ix_prescription_patient_region_prefix', ['patient_region'], unique=False, postgresql_ops={'patient_region': 'varchar_pattern_ops'})
        batch_op.create_index('ix_prescription_pharmacy_code_id', ['pharmacy_code', 'id'], unique=False)
        batch_op.create_index('ix_prescription_pharmacy_code_status_id', ['pharmacy_code', 'status', 'id'], unique=False)
        batch_op.create_index('ix_prescription_physician_code_id', ['physician_code', 'id'], unique=False)



def downgrade():
    with op.batch_alter_table('prescription', schema=None) as batch_op:
        batch_op.drop_index('ix_prescription_physician_code_id')
        batch_op.drop_index('ix_prescription_pharmacy_code_status_id')
        batch_op.drop_index('ix_prescription_pharmacy_code_id')
        batch_op.drop_index('ix_prescription_patient_region_prefix', postgresql_ops={'patient_region': 'varchar_pattern_ops'})
        batch_op.create_index(batch_op.f('ix_prescription_physician_code'), ['physician_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_prescription_pharmacy_code'), ['pharmacy_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_prescription_patient_region'), ['patient_region'], unique=False)

    with op.batch_alter_table('flag', schema=None) as batch_op:
        batch_op.drop_index('ix_flag_region_prefix', postgresql_ops={'region': 'varchar_pattern_ops'})
        batch_op.create_index(batch_op.f('ix_flag_region'), ['region'], unique=False)

