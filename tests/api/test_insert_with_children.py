"""`db.insert_with_children`: a new record and the rows pointing at it, in one statement on
PostgreSQL; every object gets the id of the row written for it."""

import uuid

import sqlalchemy as sa
from sqlmodel import select

from dualchannel import clock, db
from dualchannel.prescriptions.models import Prescription, PrescriptionEvent, PrescriptionItem
from tests.support import counting_statements


def test_each_object_gets_the_id_of_its_own_row(app, world, issue):
    template = issue().get_json()
    with app.app_context(), db.new_session() as session:
        stored = session.get(Prescription, template["id"])
        copy = Prescription(**{c.key: getattr(stored, c.key) for c in Prescription.__table__.columns
                               if c.key != "id"} | {"number": uuid.uuid4().hex})
        # Given in an order the database would not return them in by id, and of two tables.
        items = [PrescriptionItem(drug_code=code, quantity=n, days_supply=28, dosage="每日一次")
                 for code, n in (("SAC", 3), ("ADA", 1), ("OSI", 2))]
        event = PrescriptionEvent(action="issue", to_status="issued", actor="test", at=clock.now())
        with counting_statements(db.engine()) as counter:
            db.insert_with_children(session, copy, [items[0], event, *items[1:]], link="prescription_id",
                                    told_apart_by={"prescription_item": "drug_code"})
        # SQLite (in process, no round trip to save) inserts row by row.
        assert len(counter.statements) == (1 if session.get_bind().dialect.name == "postgresql" else 5)
        session.commit()
        assert copy.id and copy.id != stored.id
        rows = {row.id: row for row in session.exec(select(PrescriptionItem).where(
            PrescriptionItem.prescription_id == copy.id))}
        assert {item.id: (item.drug_code, item.quantity) for item in items} == {
            row_id: (row.drug_code, row.quantity) for row_id, row in rows.items()}
        assert all(item.prescription_id == copy.id for item in (*items, event))
        written = session.get(PrescriptionEvent, event.id)
        assert (written.prescription_id, written.actor) == (copy.id, "test")
        assert session.execute(sa.select(sa.func.count()).select_from(Prescription)).scalar() == 2
