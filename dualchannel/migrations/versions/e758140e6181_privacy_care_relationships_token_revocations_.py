"""privacy: care relationships, token revocations, patient identity per region and name

Patients: names take the normal form searches compare (NFKC, format characters removed, one
middle dot, whitespace collapsed), and one ID number may have a record per region and name
(a registration the registrar could not be told about is kept and flagged, not refused).
Care relationships are carried over from the prescriptions and eligibilities institutions
recorded. Issue 17.

Revision ID: e758140e6181
Revises: fce0e2c52c60
Create Date: 2026-12-03 11:55:43.134498
"""

import unicodedata

import sqlalchemy as sa
from alembic import op

# As `dualchannel.patients.identity.normalize_name` was written with this revision (a
# migration must not change when that code does).
_DOTS = str.maketrans({c: "\u00b7" for c in "\u30fb\u2022\u2027\u2219\u22c5\u00b7."})


def _normal_name(name: str) -> str:
    text = unicodedata.normalize("NFKC", name)
    text = " ".join("".join(c for c in text if unicodedata.category(c) != "Cf").translate(_DOTS).split())
    return text[:100] or name


revision = 'e758140e6181'
down_revision = 'fce0e2c52c60'
branch_labels = None
depends_on = None


def upgrade():
    bind = op.get_bind()
    op.create_table('patient_care',
    sa.Column('institution_code', sa.String(length=32), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('basis', sa.String(length=16), nullable=False),
    sa.Column('established_by', sa.String(length=64), nullable=False),
    sa.Column('established_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['institution_code'], ['institution.code'], name=op.f('fk_patient_care_institution_code_institution')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_patient_care_patient_id_patient')),
    sa.PrimaryKeyConstraint('institution_code', 'patient_id', name=op.f('pk_patient_care'))
    )
    with op.batch_alter_table('patient_care', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patient_care_patient_id'), ['patient_id'], unique=False)

    op.create_table('token_revocation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_id', sa.Integer(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['token_id'], ['api_token.id'], name=op.f('fk_token_revocation_token_id_api_token')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_token_revocation'))
    )
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_log_actor'))
        batch_op.create_index('ix_access_log_actor_action_at', ['actor', 'action', 'at'], unique=False)

    for patient_id, name in bind.execute(sa.text("SELECT id, name FROM patient")).all():
        if _normal_name(name) != name:
            bind.execute(sa.text("UPDATE patient SET name = :name WHERE id = :id"),
                         {"name": _normal_name(name), "id": patient_id})
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_patient_id_hash'), type_='unique')
        batch_op.create_index(batch_op.f('ix_patient_id_hash'), ['id_hash'], unique=False)
        batch_op.create_unique_constraint('uq_patient_identity', ['id_hash', 'region', 'name'])

    op.execute(
        "INSERT INTO patient_care (institution_code, patient_id, basis, established_by, established_at) "
        "SELECT institution_code, patient_id, min(basis), 'migration', min(at) FROM ("
        " SELECT institution_code, patient_id, 'prescription' AS basis, issued_at AS at FROM prescription"
        " UNION ALL"
        " SELECT p.institution_code, e.patient_id, 'eligibility', e.created_at"
        " FROM eligibility e JOIN physician p ON p.code = e.physician_code"
        ") recorded GROUP BY institution_code, patient_id")


def downgrade():
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.drop_constraint('uq_patient_identity', type_='unique')
        batch_op.drop_index(batch_op.f('ix_patient_id_hash'))
        batch_op.create_unique_constraint(batch_op.f('uq_patient_id_hash'), ['id_hash'])

    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index('ix_access_log_actor_action_at')
        batch_op.create_index(batch_op.f('ix_access_log_actor'), ['actor'], unique=False)

    op.drop_table('token_revocation')
    with op.batch_alter_table('patient_care', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patient_care_patient_id'))

    op.drop_table('patient_care')
