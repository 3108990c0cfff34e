import marshmallow as ma

from dualchannel.api import Timestamp
from dualchannel.prescriptions.schemas import PackReturnOut, PickupOut, ReasonIn, pickup_of

UndoIn = ReasonIn


class PartOut(ma.Schema):
    """One dispensing of (part of) the pack."""

    status = ma.fields.String()
    units = ma.fields.Integer()
    prescription_id = ma.fields.Integer()
    pharmacy_code = ma.fields.String()
    dispensed_at = Timestamp()
    returned_at = Timestamp(allow_none=True)

    @ma.pre_dump
    def flatten(self, part, **kwargs):
        return {"status": part.status, "units": part.units, "prescription_id": part.prescription.id,
                "pharmacy_code": part.dispensing.pharmacy_code, "dispensed_at": part.dispensing.dispensed_at,
                "returned_at": getattr(part.dispensing, "returned_at", None)}


class TraceOut(ma.Schema):
    trace_code = ma.fields.String()
    status = ma.fields.String()
    drug_code = ma.fields.String()
    drug_name = ma.fields.String()
    generic_name = ma.fields.String()
    pharmacy_code = ma.fields.String()
    pharmacy_name = ma.fields.String()
    pharmacy_county = ma.fields.String(allow_none=True)
    dispensed_at = Timestamp()
    undo_until = Timestamp(allow_none=True)
    returned_at = Timestamp(allow_none=True)
    prescription_id = ma.fields.Integer()
    prescription_status = ma.fields.String()
    physician_code = ma.fields.String()
    physician_name = ma.fields.String()
    institution_code = ma.fields.String()
    institution_name = ma.fields.String()
    patient_id_number_masked = ma.fields.String()
    pickup = ma.fields.Nested(PickupOut, allow_none=True)
    units_per_pack = ma.fields.Integer()
    units_dispensed = ma.fields.Integer()
    parts = ma.fields.List(ma.fields.Nested(PartOut))
    returns = ma.fields.List(ma.fields.Nested(PackReturnOut))

    @ma.pre_dump
    def flatten(self, chain, **kwargs):
        p = chain.prescription
        return {"trace_code": chain.trace_code, "status": chain.status, "drug_code": chain.drug.code,
                "drug_name": chain.drug.name, "generic_name": chain.drug.generic_name,
                "pharmacy_code": chain.pharmacy.code, "pharmacy_name": chain.pharmacy.name,
                "pharmacy_county": chain.pharmacy.county_adcode, "dispensed_at": chain.dispensing.dispensed_at,
                "undo_until": chain.undo_until, "returned_at": chain.returned_at, "prescription_id": p.id,
                "prescription_status": p.status, "physician_code": chain.physician.code,
                "physician_name": chain.physician.name, "institution_code": chain.institution.code,
                "institution_name": chain.institution.name,
                "patient_id_number_masked": chain.patient.id_number_masked,
                "pickup": pickup_of(p, chain.patient), "units_per_pack": chain.units_per_pack,
                "units_dispensed": chain.units_dispensed, "parts": chain.parts, "returns": chain.returns}
