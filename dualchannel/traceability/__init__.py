"""Drug traceability (可追溯): the chain behind a pack's code, and undoing a pack returned unopened."""
