"""Packs by their drug traceability codes (药品追溯码): one pack, one sale.

The lowest layer of the ledger: which physical pack (a 20-digit code) was handed out, by which
pharmacy, to which prescription, how many of its units (拆零), and which were undone. It knows
nothing of prescriptions' states or settlements; those features call it.
"""
