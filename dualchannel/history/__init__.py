"""The tamper-evident history: keyed SM3 hash chains over prescriptions' and settlements' events."""
