"""Thresholds of the audit rules (the numbers a bureau tunes), with their defaults.

Rules themselves are queries in `services.py`; what counts as suspicious is decided here.
"""

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Thresholds:
    # pharmacy_shopping: one patient, one generic, many pharmacies or physicians in a window,
    # as prescription-drug monitoring programmes use (e.g. >= 3 of either in 90 days).
    shopping_window_days: int = 90
    shopping_min_pharmacies: int = 3
    shopping_min_physicians: int = 3
    # overlapping_supply: a new dispensing while more than this share of the previous supply
    # of the same generic should remain.
    overlap_remaining_share: float = 0.3
    # ... and at least this many days of it (0: the share alone decides).
    overlap_min_days: int = 0
    # volume_outlier: a pharmacy's monthly quantity of a drug above `factor` times the average
    # of its county peers, with at least `min_peers` peers and `min_quantity` units.
    outlier_factor: float = 3.0
    outlier_min_peers: int = 2
    outlier_min_quantity: int = 20
    # pharmacy_refusals: a pharmacy handing back or closing without dispensing at least this
    # many prescriptions with one reason code inside the window (patients turned away, 推诿).
    refusal_window_days: int = 30
    refusal_min_count: int = 5
    # How far back a scan looks when no --since is given.
    lookback_days: int = 180

    @classmethod
    def tunable(cls) -> tuple[str, ...]:
        """The fields a bureau sets for its region (all but the scan's lookback)."""
        return tuple(name for name in cls.__dataclass_fields__ if name != "lookback_days")

    def replaced(self, values: dict) -> "Thresholds":
        """These thresholds with `values` (field -> number) over them, each cast to its field's type."""
        fields = self.__dataclass_fields__
        return replace(self, **{name: type(fields[name].default)(value) for name, value in values.items()})

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.tunable()}

    @classmethod
    def from_config(cls, config) -> "Thresholds":
        """Read `AUDIT_<FIELD>` keys (e.g. DUALCHANNEL_AUDIT_OUTLIER_FACTOR) over the defaults."""
        values = {}
        for name, field in cls.__dataclass_fields__.items():
            key = f"AUDIT_{name.upper()}"
            if key in config:
                values[name] = type(field.default)(config[key])
        return cls(**values)


def remaining_share(previous_supply_days: int, elapsed_days: float) -> float:
    """Share of the previous supply that should remain after `elapsed_days`."""
    if previous_supply_days <= 0:
        return 0.0
    return max(0.0, (previous_supply_days - elapsed_days) / previous_supply_days)


def is_outlier(quantity: int, peers_total: int, peers: int, t: Thresholds) -> bool:
    """A pharmacy's quantity against the average of its county peers."""
    if peers < t.outlier_min_peers or quantity < t.outlier_min_quantity:
        return False
    return quantity > t.outlier_factor * (peers_total / peers)

