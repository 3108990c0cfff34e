"""Taking packs for a dispensing, giving one back, and reading what was dispensed.

Functions here add to the caller's transaction and never commit: the use cases of
prescriptions (dispense, undo), settlements (what to bill) and procurement (usage) call them.
"""

import functools
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from dualchannel import db
from dualchannel.packs.models import DispensedPack, PackReturn, TracePack
from dualchannel.packs.rules import Draw


def units_left(session: Session, pharmacy_code: str, codes_by_drug: dict[str, list[str]]) -> dict[str, int]:
    """Units left in the packs among `codes_by_drug` that this pharmacy opened for that drug and
    has not used up. A used-up pack is not among them: scanning it again is a reuse, which
    `take` refuses as a duplicate."""
    wanted = [code for codes in codes_by_drug.values() for code in codes]
    if not wanted:
        return {}
    rows = session.execute(select(TracePack.trace_code, TracePack.drug_code,
                                  TracePack.units_per_pack - TracePack.units_dispensed)
                           .where(TracePack.trace_code.in_(wanted), TracePack.pharmacy_code == pharmacy_code,
                                  TracePack.units_dispensed < TracePack.units_per_pack))
    return {code: left for code, drug, left in rows if code in codes_by_drug.get(drug, ())}


def _upsert(dialect_name: str, rows=None) -> sa.Insert:
    """The packs' upsert: a new code opens its pack; a known one is drawn from only by the
    pharmacy that opened it, for the same drug, within the units the pack holds (the
    condition is evaluated under the row's lock, so of two racers exactly one wins). `rows`
    is a SELECT of the codes to take; without it, the statement takes VALUES."""
    pack = TracePack.__table__
    statement = db.dialect_insert(dialect_name)(pack)
    if rows is not None:
        statement = statement.from_select(["trace_code", "drug_code", "pharmacy_code", "units_per_pack",
                                           "units_dispensed", "opened_at"], rows)
    return statement.on_conflict_do_update(
        index_elements=[pack.c.trace_code],
        set_={"units_dispensed": pack.c.units_dispensed + statement.excluded.units_dispensed},
        where=sa.and_(pack.c.pharmacy_code == statement.excluded.pharmacy_code,
                      pack.c.drug_code == statement.excluded.drug_code,
                      pack.c.units_dispensed + statement.excluded.units_dispensed <= pack.c.units_per_pack),
    ).returning(pack.c.trace_code)


@functools.cache
def _take_statement(dialect_name: str) -> sa.Insert:
    """`take`'s upsert outside PostgreSQL, built once: executed with one parameter set per
    draw, it is still one statement (insertmanyvalues)."""
    return _upsert(dialect_name)


@functools.cache
def _take_and_record_statement() -> sa.Select:
    """`take` in ONE statement on PostgreSQL, built once: the upsert of the packs (arrays
    `codes`, `drugs`, `per_pack`, `units`, one element per draw) in a CTE, and the dispensings
    inserted only when it took every code. Answers (code taken, dispensings written) per code
    taken."""
    from sqlalchemy.dialects.postgresql import ARRAY

    pack, dispensed = TracePack.__table__, DispensedPack.__table__
    given = sa.func.unnest(sa.bindparam("codes", type_=ARRAY(pack.c.trace_code.type)),
                           sa.bindparam("drugs", type_=ARRAY(pack.c.drug_code.type)),
                           sa.bindparam("per_pack", type_=ARRAY(sa.Integer)),
                           sa.bindparam("units", type_=ARRAY(sa.Integer))) \
        .table_valued("trace_code", "drug_code", "units_per_pack", "units").render_derived("given")
    pharmacy_code = sa.bindparam("pharmacy_code", type_=pack.c.pharmacy_code.type)
    at = sa.bindparam("at", type_=pack.c.opened_at.type)
    taken = _upsert("postgresql", sa.select(given.c.trace_code, given.c.drug_code, pharmacy_code,
                                            given.c.units_per_pack, given.c.units, at)).cte("taken")
    every_code_taken = sa.select(sa.func.count()).select_from(taken).scalar_subquery() == sa.func.cardinality(
        sa.bindparam("codes", type_=ARRAY(pack.c.trace_code.type)))
    recorded = (sa.insert(dispensed).from_select(
        ["trace_code", "prescription_id", "drug_code", "pharmacy_code", "units", "dispensed_at"],
        sa.select(given.c.trace_code, sa.bindparam("prescription_id", type_=sa.Integer), given.c.drug_code,
                  pharmacy_code, given.c.units, at).where(every_code_taken))
        .returning(dispensed.c.id).cte("recorded"))
    return sa.select(taken.c.trace_code, sa.select(sa.func.count()).select_from(recorded).scalar_subquery())


def take(session: Session, *, prescription_id: int, pharmacy_code: str, draws: list[Draw],
         units_per_pack: dict[str, int | None], at: datetime) -> list[str]:
    """Take `draws` from their packs and record the dispensings; returns the codes refused (each
    is another pharmacy's, or another drug's, or would give more units than its pack holds).
    No dispensing is written when a code is refused: the caller refuses the dispensing (and
    its rollback undoes the packs taken).

    One `INSERT ... ON CONFLICT DO UPDATE ... WHERE` opens new packs and draws from this
    pharmacy's open ones; on PostgreSQL the dispensings are written by the same statement.
    """
    codes = {d.trace_code for d in draws}
    if session.get_bind().dialect.name == "postgresql":
        answer = session.execute(_take_and_record_statement(), {
            "codes": [d.trace_code for d in draws], "drugs": [d.drug_code for d in draws],
            "per_pack": [units_per_pack.get(d.drug_code) or 1 for d in draws], "units": [d.units for d in draws],
            "pharmacy_code": pharmacy_code, "at": at, "prescription_id": prescription_id}).all()
        return sorted(codes - {code for code, _ in answer})
    rows = [{"trace_code": d.trace_code, "drug_code": d.drug_code, "pharmacy_code": pharmacy_code,
             "units_per_pack": units_per_pack.get(d.drug_code) or 1, "units_dispensed": d.units, "opened_at": at}
            for d in draws]
    refused = sorted(codes - set(session.execute(_take_statement(session.get_bind().dialect.name), rows).scalars()))
    if not refused:
        session.execute(DispensedPack.__table__.insert(), [
            {"trace_code": d.trace_code, "prescription_id": prescription_id, "drug_code": d.drug_code,
             "pharmacy_code": pharmacy_code, "units": d.units, "dispensed_at": at} for d in draws])
    return refused


def dispensed_rows(draws: list[Draw], *, prescription_id: int, pharmacy_code: str, at: datetime) -> list[DispensedPack]:
    """The dispensings `take` wrote for `draws`, as rows in code order: an answer that reads
    nothing back."""
    return sorted((DispensedPack(trace_code=d.trace_code, prescription_id=prescription_id, drug_code=d.drug_code,
                                 pharmacy_code=pharmacy_code, units=d.units, dispensed_at=at) for d in draws),
                  key=lambda pack: pack.trace_code)


def dispensings_of(session: Session, codes: Collection[str]) -> list[DispensedPack]:
    """Every live dispensing of any of `codes`, oldest first."""
    return list(session.exec(select(DispensedPack).where(DispensedPack.trace_code.in_(list(codes)))
                             .order_by(DispensedPack.id)))


def pack(session: Session, code: str) -> TracePack | None:
    """The pack with this code, while any of it is dispensed."""
    return session.get(TracePack, code)


@functools.cache
def _units_dispensed_query() -> sa.Select:
    return (select(DispensedPack.drug_code, sa.func.sum(DispensedPack.units))
            .where(DispensedPack.prescription_id == sa.bindparam("prescription_id"))
            .group_by(DispensedPack.drug_code))


def units_dispensed(session: Session, prescription_id: int) -> dict[str, int]:
    """Units still dispensed to a prescription, per drug (what a settlement bills)."""
    return dict(session.execute(_units_dispensed_query(), {"prescription_id": prescription_id}).all())


def units_dispensed_column() -> sa.ScalarSelect:
    """`units_dispensed` as a column of another statement (PostgreSQL; bind parameter
    `prescription_id`): one JSON object, drug code to units, or NULL when nothing is dispensed."""
    per_drug = _units_dispensed_query().subquery()
    drug_code, units = per_drug.c
    return select(sa.func.json_object_agg(drug_code, units)).scalar_subquery()


@dataclass
class PrescriptionPacks:
    """What was dispensed to one prescription and what of it was undone."""

    dispensed: list[DispensedPack]
    returned: list[PackReturn]


def of_prescription(session: Session, prescription_id: int) -> PrescriptionPacks:
    """What was dispensed to one prescription (in code order) and what of it was undone."""
    return of_prescriptions(session, [prescription_id])[prescription_id]


def of_prescriptions(session: Session, ids: Collection[int]) -> dict[int, PrescriptionPacks]:
    """`of_prescription` of each of `ids`, in two queries."""
    found = {i: PrescriptionPacks(dispensed=[], returned=[]) for i in ids}
    if found:
        for pack in session.exec(select(DispensedPack).where(DispensedPack.prescription_id.in_(list(found)))
                                 .order_by(DispensedPack.trace_code)):
            found[pack.prescription_id].dispensed.append(pack)
        for pack in session.exec(select(PackReturn).where(PackReturn.prescription_id.in_(list(found)))
                                 .order_by(PackReturn.id)):
            found[pack.prescription_id].returned.append(pack)
    return found


def returns_of(session: Session, code: str) -> list[PackReturn]:
    """Every undo of a code, oldest first."""
    return list(session.exec(select(PackReturn).where(PackReturn.trace_code == code).order_by(PackReturn.id)))


def give_back(session: Session, dispensing: DispensedPack, *, at: datetime, actor: str, reason: str) -> bool:
    """Undo a whole pack's dispensing: the code is free again and the undo is kept. False when
    the dispensing is gone meanwhile (a concurrent undo)."""
    removed = session.execute(sa.delete(DispensedPack).where(DispensedPack.id == dispensing.id)
                              .execution_options(synchronize_session=False)).rowcount
    if removed != 1:
        return False
    session.execute(sa.delete(TracePack).where(TracePack.trace_code == dispensing.trace_code)
                    .execution_options(synchronize_session=False))
    session.add(PackReturn(trace_code=dispensing.trace_code, prescription_id=dispensing.prescription_id,
                           drug_code=dispensing.drug_code, pharmacy_code=dispensing.pharmacy_code,
                           dispensed_at=dispensing.dispensed_at, returned_at=at, actor=actor, reason=reason))
    return True


def units_dispensed_by_pharmacy(session: Session, drug_codes: Iterable[str], *, start: datetime, end: datetime,
                                pharmacy_codes: Collection[str] | None = None) -> dict[str, int]:
    """Units of `drug_codes` dispensed per pharmacy in [start, end), in each drug's unit: a
    whole pack is one unit, a pack dispensed in parts (拆零) counts its parts (a box of 28
    tablets drawn by two prescriptions is 28 tablets, not two)."""
    statement = (select(DispensedPack.pharmacy_code, sa.func.sum(DispensedPack.units))
                 .where(DispensedPack.drug_code.in_(list(drug_codes)), DispensedPack.dispensed_at >= start,
                        DispensedPack.dispensed_at < end)
                 .group_by(DispensedPack.pharmacy_code))
    if pharmacy_codes is not None:
        statement = statement.where(DispensedPack.pharmacy_code.in_(list(pharmacy_codes)))
    return dict(session.execute(statement).all())
