"""A patient's timeline across pharmacies (the PDMP lookup): prescriptions, dispensings with
their supply, returns and settlements on one time axis."""
