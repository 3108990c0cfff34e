"""Every table, imported in one place so Alembic and tests see the whole schema."""

from sqlmodel import SQLModel

from dualchannel.audit.models import AuditExemption, AuditThreshold, AuditThresholdChange  # noqa: F401
from dualchannel.access_log.models import AccessLog  # noqa: F401
from dualchannel.auth import ApiToken, TokenRevocation  # noqa: F401
from dualchannel.drugs.models import Drug, DrugPaymentStandard  # noqa: F401
from dualchannel.flags.models import Flag  # noqa: F401
from dualchannel.history.models import HistoryCheck  # noqa: F401
from dualchannel.idempotency import IdempotencyKey  # noqa: F401
from dualchannel.institutions.models import Institution, Physician  # noqa: F401
from dualchannel.patients.models import Eligibility, Patient, PatientCare  # noqa: F401
from dualchannel.pharmacies.models import Pharmacist, Pharmacy, PharmacyEvent, Stock  # noqa: F401
from dualchannel.procurement.models import (  # noqa: F401
    Batch,
    CalendarDay,
    Declaration,
    Line,
    Product,
    Purchase,
    SupplyProblem,
)
from dualchannel.packs.models import DispensedPack, PackReturn, TracePack  # noqa: F401
from dualchannel.prescriptions.models import (  # noqa: F401
    Prescription,
    PrescriptionEvent,
    PrescriptionItem,
)
from dualchannel.settlements.models import (  # noqa: F401
    Accumulator,
    Settlement,
    SettlementEvent,
    SettlementLine,
    SettlementPolicy,
)

from dualchannel.signatures.models import SigningKey  # noqa: F401

metadata = SQLModel.metadata
