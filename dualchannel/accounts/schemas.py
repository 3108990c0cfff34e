import marshmallow as ma


class PlaceOut(ma.Schema):
    adcode = ma.fields.String()
    name = ma.fields.String()
    lat = ma.fields.Float(allow_none=True)
    lon = ma.fields.Float(allow_none=True)
    crs = ma.fields.Constant("wgs84")


class AccountOut(ma.Schema):
    role = ma.fields.String()
    subject = ma.fields.String(allow_none=True)
    name = ma.fields.String(allow_none=True)
    display_name = ma.fields.String()
    organisation = ma.fields.Dict(allow_none=True)
    responsible = ma.fields.Boolean(allow_none=True)
    region = ma.fields.Nested(PlaceOut, allow_none=True)
    home = ma.fields.Nested(PlaceOut, allow_none=True)
    areas = ma.fields.List(ma.fields.Nested(PlaceOut))
    # A pharmacy's token bound to a pharmacist (执业药师): who reviews (审方) with it.
    pharmacist = ma.fields.Dict(allow_none=True)
