"""Walking the history chains (`dualchannel history verify`): each chain's first broken link is
named, the run is recorded (its result is the metric `dualchannel_history_broken_links`) and
each broken chain is flagged for the bureau of its region.

A chain is checked from its first link, so `since` chooses which chains to walk (those of the
records written since), never where a chain starts. Beyond the links, a chain that holds must
also explain the record as it stands: its status is the one its history ends in, its dispensed
packs and returns are those its dispensings and undos recorded, its agent the last one verified.
"""

import logging
import math
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from dualchannel import clock, db
from dualchannel.flags.services import raise_flag
from dualchannel.history import chain
from dualchannel.history.models import HistoryCheck
from dualchannel.prescriptions import services as prescriptions
from dualchannel.settlements import services as settlements
from dualchannel.signatures.crypto import instant

log = logging.getLogger(__name__)
PAGE = 500
KEPT_FINDINGS = 100


@dataclass
class Finding:
    """The first broken link of one chain."""

    chain: str  # "prescription:12", "settlement:3"
    link: int | None  # its position in the chain (1 = the first); None: the record against its chain
    row: str | None  # the history row at that link ("prescription_event:57")
    problem: str
    region: str

    def line(self) -> str:
        where = f" link {self.link}" if self.link else ""
        row = f" ({self.row})" if self.row else ""
        return f"BROKEN {self.chain}{where}{row}: {self.problem}"


@dataclass
class Report:
    ran_at: datetime
    since: datetime | None
    chains: int = 0
    links: int = 0
    findings: list[Finding] = field(default_factory=list)


def _walk(head: str, events, extras: dict[int, dict]) -> tuple[str | None, int, int | None]:
    """Follow a chain: (the head after its last link, links checked, position of the first link
    whose hash does not follow from its content and the links before, or None)."""
    for position, event in enumerate(events, start=1):
        if event.chain_hash != chain.link(head, chain.event_content(event, extras.get(position))):
            return None, position, position
        head = chain.next_head(event.chain_hash)
    return head, len(events), None


def _describe(event, table: str) -> str:
    return f"{table}:{event.id} {event.action} at {instant(event.at)}"


def _prescription(detail: prescriptions.PrescriptionDetail) -> tuple[int, Finding | None]:
    p, events = detail.prescription, detail.events
    name, region = f"prescription:{p.id}", p.patient_region
    start = 0
    if p.number is None and p.signature is None:
        # Issued before signing and the chains: its chain, if any, starts at its first linked row.
        while start < len(events) and events[start].chain_hash is None:
            start += 1
        if start == len(events) and p.history_head is None:
            return 0, None
    gap = next((i for i in range(start, len(events)) if events[i].chain_hash is None), None)
    if gap is not None:
        return gap, Finding(name, gap + 1, _describe(events[gap], "prescription_event"),
                            "the row has no link: it was inserted, or its link removed", region)
    extras = {}
    if start == 0 and p.number is not None:
        extras[1] = prescriptions.issue_link(p, prescriptions.signed_bytes(p, detail.patient, detail.items))
    head, links, broken = _walk(prescriptions.chain_start(p), events[start:], extras)
    if broken:
        return links, Finding(name, start + broken, _describe(events[start + broken - 1], "prescription_event"),
                              "its hash does not follow from its content and the link before: this row (or, for "
                              "the first link, the signed prescription) was changed, or a row before it removed",
                              region)
    if head != p.history_head:
        return links, Finding(name, start + links + 1, None, "the prescription's history head does not follow from "
                              "its last link: a later row was removed, or the head changed", region)
    problem = _record_against_history(detail)
    return links, problem and Finding(name, None, name, problem, region)


def _record_against_history(detail: prescriptions.PrescriptionDetail) -> str | None:
    """Why the prescription as it stands is not what its (intact) history says, or None."""
    p, events = detail.prescription, detail.events
    moves = [e for e in events if e.to_status is not None]
    if moves and moves[-1].to_status != p.status:
        return f"its status is {p.status}, its history ends in {moves[-1].to_status}"
    drawn, undone = Counter(), Counter()
    for event in events:
        detail_ = event.detail or {}
        if event.action == "dispense":
            if "packs" not in detail_:
                return None  # dispensed before the chains recorded packs
            drawn.update(tuple(pack) for pack in detail_["packs"])
        elif event.action == "undo_pack":
            undone[detail_.get("trace_code")] += 1
    live = Counter((pack.trace_code, pack.drug_code, pack.units) for pack in detail.packs)
    expected = drawn - Counter({pack: n for pack, n in drawn.items() if undone[pack[0]]})
    if live != expected:
        return (f"its dispensed packs ({sorted(c for c, _, _ in live)}) are not the ones its dispensings and undos "
                f"recorded ({sorted(c for c, _, _ in expected)})")
    if Counter(r.trace_code for r in detail.returns) != undone:
        return "its returned packs are not the ones its undos recorded"
    verified = next((e for e in reversed(events) if e.action in ("verify", "return", "refuse_review")), None)
    recorded = (verified.detail or {}) if verified is not None and verified.action == "verify" else {}
    if "agent" in recorded or recorded.get("pickup") is False:
        shown = {"name": p.pickup_name, "id_number_masked": p.pickup_id_masked, "relation": p.pickup_relation}
        if shown != recorded.get("agent", {"name": None, "id_number_masked": None, "relation": None}):
            return "its agent picking up (代取人) is not the one verified"
    return None


def _settlement(detail: settlements.SettlementDetail, origin: str | None) -> tuple[int, Finding | None]:
    settlement, lines, events = detail.settlement, detail.lines, detail.events
    name, region = f"settlement:{settlement.id}", settlement.patient_region
    if settlement.history_head is None and all(e.chain_hash is None for e in events):
        return 0, None  # older than the history chains
    if origin is None:
        return 0, Finding(name, 1, None, "no settle link of its prescription's history starts it", region)
    adjudicated = next((i for i, e in enumerate(events, start=1) if e.action == "adjudicate"), None)
    extras = {1: settlements.settlement_link(settlement, lines, as_charged_in_full=adjudicated is not None)}
    if adjudicated:
        extras[adjudicated] = settlements.settlement_link(settlement, lines)
    head, links, broken = _walk(chain.genesis("settlement", origin), events, extras)
    if broken:
        event = events[broken - 1]
        return links, Finding(name, broken, _describe(event, "settlement_event"),
                              "its hash does not follow from its content and the link before: this row (or, for "
                              "the first link, the settlement or its lines) was changed, or a row before it "
                              "removed", region)
    if head != settlement.history_head:
        return links, Finding(name, links + 1, None, "the settlement's history head does not follow from its last "
                              "link: a later row was removed, or the head changed", region)
    if events and events[-1].to_status != settlement.status:
        return links, Finding(name, None, name, f"its status is {settlement.status}, its history ends in "
                              f"{events[-1].to_status}", region)
    return links, None


def _page_ids(session: Session, after: int, since: datetime | None) -> list[int]:
    p = prescriptions.prescription_view()
    statement = sa.select(p.c.id).where(p.c.id > after)
    if since is not None:
        s = settlements.settlement_view()
        statement = statement.where(sa.or_(
            p.c.updated_at >= since, p.c.id.in_(sa.select(s.c.prescription_id).where(s.c.updated_at >= since))))
    return list(session.scalars(statement.order_by(p.c.id).limit(PAGE)))


def verify(session: Session, *, since: datetime | None = None) -> Report:
    """Walk every chain (or those of records written since `since`), in pages; name each
    chain's first broken link."""
    report = Report(ran_at=clock.now(), since=since)
    after = 0
    while ids := _page_ids(session, after, since):
        after = ids[-1]
        details = prescriptions.details_of(session, ids)
        made = settlements.details_of_prescriptions(session, ids)
        for detail in details:
            links, finding = _prescription(detail)
            report.chains += 1
            report.links += links
            if finding:
                report.findings.append(finding)
            origins = [e.chain_hash for e in detail.events if e.action == "settle"]
            mine = [s for s in made if s.settlement.prescription_id == detail.prescription.id]
            # Each settlement was started by one settle link of its prescription, in order.
            for settlement_detail, origin in zip(mine, origins + [None] * len(mine)):
                links, finding = _settlement(settlement_detail, origin)
                report.chains += 1
                report.links += links
                if finding:
                    report.findings.append(finding)
        session.expunge_all()
    return report


def record(session: Session, report: Report) -> HistoryCheck:
    """Keep the run (the metric reads the latest) and flag each broken chain; commits."""
    for finding in report.findings:
        raise_flag(session, type="history_broken", severity="high", subject=finding.chain, region=finding.region,
                   dedup_key=f"history_broken:{finding.chain}:{finding.link}:{finding.row}"[:200],
                   evidence=asdict(finding))
    check = HistoryCheck(ran_at=report.ran_at, since=report.since, chains=report.chains, links=report.links,
                         broken=len(report.findings),
                         findings=[asdict(f) for f in report.findings[:KEPT_FINDINGS]])
    session.add(check)
    session.commit()
    _metric_reads[session.get_bind()] = (time.monotonic(), _families(check))  # shown at once here
    return check


def latest(session: Session) -> HistoryCheck | None:
    return session.exec(select(HistoryCheck).order_by(HistoryCheck.id.desc()).limit(1)).first()


#: How long a read of the latest run serves scrapes, and how long a read may wait. A scrape
#: never waits on the database (`/metrics` must answer while it hangs, issue 16): it is served
#: the last read, and a stale one is refreshed in the background.
METRIC_REFRESH_SECONDS = 30.0
METRIC_READ_SECONDS = 5.0
_metric_reads: dict[sa.Engine, tuple[float, list]] = {}
_refreshing: set[sa.Engine] = set()
_refresh_lock = threading.Lock()


def metric_families(engine: sa.Engine):
    """The latest run as Prometheus gauges, as last read (none before the first run, or
    until the first read of this process is done)."""
    read_at, families = _metric_reads.get(engine, (-math.inf, []))
    if time.monotonic() - read_at >= METRIC_REFRESH_SECONDS:
        with _refresh_lock:
            start = engine not in _refreshing
            _refreshing.add(engine)
        if start:
            threading.Thread(target=_refresh_metric, args=(engine,), name="history-metric", daemon=True).start()
    return families


def _refresh_metric(engine: sa.Engine) -> None:
    families = _metric_reads.get(engine, (0.0, []))[1]
    pool = engine.pool
    try:
        with db.deadline(METRIC_READ_SECONDS), Session(engine) as session:
            families = _families(latest(session))
    except (sa.exc.SQLAlchemyError, db.DatabaseUnavailable) as error:
        log.warning("history check not read for metrics: %s", type(error).__name__)
    finally:
        if engine.pool is not pool:
            # The engine was disposed while this read ran: its connection went back to the old
            # pool, which nothing closes any more (the garbage collector would drop it open).
            pool.dispose()
        _metric_reads[engine] = (time.monotonic(), families)
        with _refresh_lock:
            _refreshing.discard(engine)


def _families(check: HistoryCheck | None) -> list:
    from prometheus_client.core import GaugeMetricFamily

    if check is None:
        return []
    return [GaugeMetricFamily("dualchannel_history_broken_links",
                              "Chains with a broken link found by the latest `dualchannel history verify`.",
                              value=check.broken),
            GaugeMetricFamily("dualchannel_history_checked_timestamp_seconds",
                              "When the latest `dualchannel history verify` ran (Unix time).",
                              value=check.ran_at.timestamp())]
