"""Signing keys of physicians and pharmacists, certified by the service's CA (SM2 with SM3)."""
