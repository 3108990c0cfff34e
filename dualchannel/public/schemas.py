import marshmallow as ma

from dualchannel.api import ListArgs, page_schema
from dualchannel.errors import FieldMessage
from dualchannel.institutions.schemas import ADCODE

CRS = ma.validate.OneOf(["gcj02", "wgs84", "bd09"])


class PublicPharmacyQuery(ListArgs):
    """Unknown parameters are refused (the view parses with unknown=RAISE): a misspelt filter
    must not return the whole country unnoticed."""

    region = ma.fields.String(load_default=None, validate=ADCODE,
                              metadata={"description": "A province, city or county adcode."})
    lat = ma.fields.Float(load_default=None, allow_nan=False, validate=ma.validate.Range(-90, 90))
    lon = ma.fields.Float(load_default=None, allow_nan=False, validate=ma.validate.Range(-180, 180))
    crs = ma.fields.String(load_default="gcj02", validate=CRS, metadata={
        "description": "System of lat/lon, and of the locations given back (default gcj02, as phone maps)."})

    @ma.validates_schema
    def _both_or_neither(self, data, **kwargs):
        if (data.get("lat") is None) != (data.get("lon") is None):
            missing = "lon" if data.get("lon") is None else "lat"
            raise ma.ValidationError({missing: [FieldMessage("lat_lon_together", "Give lat and lon together.")]})


class PublicPharmacyOut(ma.Schema):
    code = ma.fields.String(metadata={"description": "National insurance code (医保信息业务编码)."})
    name = ma.fields.String()
    address = ma.fields.String()
    county_adcode = ma.fields.String(allow_none=True, metadata={"description": "Where it really is."})
    county_name = ma.fields.String(allow_none=True)
    city_adcode = ma.fields.String(allow_none=True)
    city_name = ma.fields.String(allow_none=True)
    lat = ma.fields.Float()
    lon = ma.fields.Float()
    crs = ma.fields.String()
    cold_chain = ma.fields.Boolean(metadata={"description": "Stores 2–8 °C drugs (冷链)."})
    opening_state = ma.fields.String(metadata={
        "description": "open (serving dual-channel patients) or suspended (admitted, serving again later)."})
    distance_km = ma.fields.Float(allow_none=True, metadata={"description": "Geodesic, from the point asked."})


PublicPharmacyPage = page_schema(PublicPharmacyOut)
