"""A FHIR R4 read API over the prescriptions, dispensings, routings and settlements."""
