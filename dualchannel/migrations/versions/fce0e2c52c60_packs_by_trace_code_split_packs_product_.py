"""packs by trace code: split packs, product prefixes, pharmacy capability events

Revision ID: fce0e2c52c60
Revises: 045062ccc5f9
Create Date: 2026-12-03 11:50:40.894701
"""

import sqlalchemy as sa
from alembic import op


revision = 'fce0e2c52c60'
down_revision = '045062ccc5f9'
branch_labels = None
depends_on = None


def _trace_pack_table(length):
    op.create_table('trace_pack',
    sa.Column('trace_code', sa.String(length=length), nullable=False),
    sa.Column('drug_code', sa.String(length=32), nullable=False),
    sa.Column('pharmacy_code', sa.String(length=32), nullable=False),
    sa.Column('units_per_pack', sa.Integer(), nullable=False),
    sa.Column('units_dispensed', sa.Integer(), nullable=False),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['drug_code'], ['drug.code'], name=op.f('fk_trace_pack_drug_code_drug')),
    sa.ForeignKeyConstraint(['pharmacy_code'], ['pharmacy.code'], name=op.f('fk_trace_pack_pharmacy_code_pharmacy')),
    sa.PrimaryKeyConstraint('trace_code', name=op.f('pk_trace_pack'))
    )


def upgrade():
    # A code is now one physical pack (trace_pack) from which one or more dispensings draw
    # (dispensed_pack, one row per dispensing and code, with the units taken: 拆零). Codes stored
    # before keep their spelling; every new one is stored as 20 ASCII digits.
    _trace_pack_table(40)
    op.execute("CREATE TABLE dispensed_pack_old AS SELECT * FROM dispensed_pack")
    op.drop_table('dispensed_pack')
    op.create_table('dispensed_pack',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('trace_code', sa.String(length=40), nullable=False),
    sa.Column('prescription_id', sa.Integer(), nullable=False),
    sa.Column('drug_code', sa.String(length=32), nullable=False),
    sa.Column('pharmacy_code', sa.String(length=32), nullable=False),
    sa.Column('units', sa.Integer(), nullable=False),
    sa.Column('dispensed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['drug_code'], ['drug.code'], name=op.f('fk_dispensed_pack_drug_code_drug')),
    sa.ForeignKeyConstraint(['pharmacy_code'], ['pharmacy.code'], name=op.f('fk_dispensed_pack_pharmacy_code_pharmacy')),
    sa.ForeignKeyConstraint(['prescription_id'], ['prescription.id'], name=op.f('fk_dispensed_pack_prescription_id_prescription')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispensed_pack')),
    sa.UniqueConstraint('prescription_id', 'trace_code', name=op.f('uq_dispensed_pack_prescription_id'))
    )
    with op.batch_alter_table('dispensed_pack', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dispensed_pack_pharmacy_code'), ['pharmacy_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_dispensed_pack_prescription_id'), ['prescription_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dispensed_pack_trace_code'), ['trace_code'], unique=False)
    op.execute("INSERT INTO trace_pack (trace_code, drug_code, pharmacy_code, units_per_pack, units_dispensed, "
               "opened_at) SELECT trace_code, drug_code, pharmacy_code, 1, 1, dispensed_at FROM dispensed_pack_old")
    op.execute("INSERT INTO dispensed_pack (trace_code, prescription_id, drug_code, pharmacy_code, units, "
               "dispensed_at) SELECT trace_code, prescription_id, drug_code, pharmacy_code, 1, dispensed_at "
               "FROM dispensed_pack_old ORDER BY dispensed_at, trace_code")
    op.drop_table('dispensed_pack_old')

    with op.batch_alter_table('drug', schema=None) as batch_op:
        batch_op.add_column(sa.Column('trace_prefixes', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('units_per_pack', sa.Integer(), nullable=True))
    with op.batch_alter_table('drug', schema=None) as batch_op:
        batch_op.alter_column('trace_prefixes', server_default=None)

    with op.batch_alter_table('pharmacy_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('detail', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('pharmacy_event', schema=None) as batch_op:
        batch_op.drop_column('detail')

    with op.batch_alter_table('drug', schema=None) as batch_op:
        batch_op.drop_column('units_per_pack')
        batch_op.drop_column('trace_prefixes')

    # Back to one row per code: the first dispensing of each pack (parts of split packs are lost).
    op.execute("CREATE TABLE dispensed_pack_new AS SELECT * FROM dispensed_pack")
    op.drop_table('dispensed_pack')
    op.create_table('dispensed_pack',
    sa.Column('trace_code', sa.String(length=40), nullable=False),
    sa.Column('prescription_id', sa.Integer(), nullable=False),
    sa.Column('drug_code', sa.String(length=32), nullable=False),
    sa.Column('pharmacy_code', sa.String(length=32), nullable=False),
    sa.Column('dispensed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['drug_code'], ['drug.code'], name=op.f('fk_dispensed_pack_drug_code_drug')),
    sa.ForeignKeyConstraint(['pharmacy_code'], ['pharmacy.code'], name=op.f('fk_dispensed_pack_pharmacy_code_pharmacy')),
    sa.ForeignKeyConstraint(['prescription_id'], ['prescription.id'], name=op.f('fk_dispensed_pack_prescription_id_prescription')),
    sa.PrimaryKeyConstraint('trace_code', name=op.f('pk_dispensed_pack'))
    )
    with op.batch_alter_table('dispensed_pack', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dispensed_pack_pharmacy_code'), ['pharmacy_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_dispensed_pack_prescription_id'), ['prescription_id'], unique=False)
    op.execute("INSERT INTO dispensed_pack (trace_code, prescription_id, drug_code, pharmacy_code, dispensed_at) "
               "SELECT trace_code, prescription_id, drug_code, pharmacy_code, dispensed_at FROM dispensed_pack_new d "
               "WHERE d.id = (SELECT min(e.id) FROM dispensed_pack_new e WHERE e.trace_code = d.trace_code)")
    op.drop_table('dispensed_pack_new')
    op.drop_table('trace_pack')
