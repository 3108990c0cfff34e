"""Every CSV download is written by one writer (`api.csv_response`, issue 19): UTF-8 with a
byte-order mark, so Excel opens the Chinese as Chinese, CRLF line ends, a header line, and
booleans as true/false."""

import csv
import io

from tests.api.procurement_support import API, batch, buy, product

BOM = b"\xef\xbb\xbf"
# Each CSV route, with the query it is asked with and a Chinese text its rows must carry (None:
# the demo gives it no Chinese cell to check).
CSV_ROUTES = {
    "/api/v1/coverage.csv": ("?region=370800", "济宁市"),
    "/api/v1/procurement/reports.csv": ("?region=370800&period=quarter", "苯磺酸氨氯地平片"),
    "/api/v1/flags.csv": ("", None),
    "/api/v1/audit/spending.csv": ("?by=county", None),
    "/api/v1/settlements/reconciliation.csv": ("?period=month", None),
}


def test_every_csv_route_is_listed(app):
    routes = {rule.rule for rule in app.url_map.iter_rules() if rule.rule.endswith(".csv") and "GET" in rule.methods}
    assert routes == set(CSV_ROUTES)


def test_every_csv_starts_with_the_bom_and_keeps_the_chinese(demo):
    batch(demo.admin, start="2026-01-01", end="2027-12-31")
    product(demo.admin, "B2026", "AML-SEL")
    buy(demo.admin, "H370811001", "AML-SEL", 100, "2026-02-01")
    for path, (query, chinese) in CSV_ROUTES.items():
        response = demo.bureau.get(path + query)
        assert response.status_code == 200 and response.mimetype == "text/csv", (path, response.get_json())
        assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert "attachment" in response.headers["Content-Disposition"]
        body = response.data
        assert body.startswith(BOM), path
        assert body.count(b"\n") == body.count(b"\r\n") >= 1, path  # CRLF only, a header at least
        text = body.decode("utf-8-sig")
        assert not text.startswith("\ufeff"), path  # one mark, not two
        rows = list(csv.DictReader(io.StringIO(text)))
        if chinese is not None:
            assert rows and any(chinese in value for row in rows for value in row.values()), (path, text[:300])
            # What Excel does: read the bytes as UTF-8 because of the mark, not as GB18030.
            assert chinese.encode("utf-8") in body and chinese.encode("gb18030") not in body


def test_a_report_row_reads_back_with_its_types(demo):
    batch(demo.admin)
    product(demo.admin, "B2026", "AML-SEL")
    buy(demo.admin, "H370811001", "AML-SEL", 100, "2026-02-01", amount="15.00")
    text = demo.bureau.get(f"{API}/reports.csv?period=quarter").data.decode("utf-8-sig")
    q1 = next(row for row in csv.DictReader(io.StringIO(text)) if row["period"] == "Q1")
    assert (q1["product_name"], q1["purchased"], q1["amount"]) == ("苯磺酸氨氯地平片 AML-SEL", "100", "15.00")
