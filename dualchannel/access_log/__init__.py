"""Who read or changed what: one access log for every feature (全流程可追溯)."""
