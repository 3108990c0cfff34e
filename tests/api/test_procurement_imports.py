"""Imports of result tables and purchases: all rows or none, every bad row named by its line."""

import io

from openpyxl import Workbook

from tests.api.procurement_support import API, batch, product
from tests.api.test_prescription_flow import problem

HEADER = "code,generic_name,manufacturer,name,dosage_form,specification,packaging,unit,price,status\n"
GOOD = [
    "AML-01,苯磺酸氨氯地平片,浙江华海药业,苯磺酸氨氯地平片,片剂,5mg,28片/盒,片,0.1500,selected\n",
    "AML-02,苯磺酸氨氯地平片,辉瑞制药,络活喜,片剂,5mg,7片/盒,片,4.5000,non_selected\n",
    "AML-03,苯磺酸氨氯地平片,扬子江药业,苯磺酸氨氯地平片,片剂,5mg,14片/盒,片,0.2000,backup\n",
]


def upload(actor, url, content: bytes, filename="result.csv"):
    return actor.client.post(url, data={"file": (io.BytesIO(content), filename)}, content_type="multipart/form-data",
                             headers={"Authorization": f"Bearer {actor.token}"})


def test_a_result_table_with_one_bad_row_imports_nothing_and_names_the_row(world):
    batch(world.admin)
    bad = "AML-04,苯磺酸氨氯地平片,某药业,苯磺酸氨氯地平片,片剂,5mg,28片/盒,片,一毛五,selected\n"
    content = (HEADER + GOOD[0] + bad + GOOD[1]).encode()
    body = problem(upload(world.admin, f"{API}/batches/B2026/products/import", content), 422)
    assert list(body["errors"]) == ["line 3"] and "price" in body["errors"]["line 3"][0]
    assert [row["line"] for row in body["rows"]] == [3] and "line 3" in body["detail"]
    assert world.admin.get(f"{API}/batches/B2026/products").get_json()["items"] == []

    ok = upload(world.admin, f"{API}/batches/B2026/products/import", (HEADER + "".join(GOOD)).encode())
    assert ok.status_code == 201 and ok.get_json() == {"imported": 3}
    statuses = {p["code"]: p["status"] for p in world.admin.get(f"{API}/batches/B2026/products").get_json()["items"]}
    assert statuses == {"AML-01": "selected", "AML-02": "non_selected", "AML-03": "backup"}


def test_every_bad_row_is_reported(world):
    batch(world.admin)
    product(world.admin, "B2026", "AML-OLD")
    rows = [
        "AML-01,苯磺酸氨氯地平片,浙江华海药业,苯磺酸氨氯地平片,片剂,5mg,28片/盒,片,0.1500,selected\n",
        "AML-01,苯磺酸氨氯地平片,浙江华海药业,苯磺酸氨氯地平片,片剂,5mg,28片/盒,片,0.1500,selected\n",
        "\n",
        "AML-OLD,苯磺酸氨氯地平片,浙江华海药业,苯磺酸氨氯地平片,片剂,5mg,28片/盒,片,0.1500,selected\n",
        "AML-05,苯磺酸氨氯地平片,浙江华海药业,苯磺酸氨氯地平片,片剂,5mg,28片/盒,片,0,selected\n",
        "AML-06,,浙江华海药业,苯磺酸氨氯地平片,片剂,5mg,28片/盒,片,0.15,maybe\n",
    ]
    body = problem(upload(world.admin, f"{API}/batches/B2026/products/import", (HEADER + "".join(rows)).encode()), 422)
    assert sorted(body["errors"]) == ["line 3", "line 5", "line 6", "line 7"]
    assert "line 2" in body["errors"]["line 3"][0]
    assert "already exists" in body["errors"]["line 5"][0]
    assert "positive" in body["errors"]["line 6"][0]
    assert "generic_name" in body["errors"]["line 7"][0] and "status" in body["errors"]["line 7"][0]


def test_an_xlsx_table_with_chinese_headers_and_gb18030_csv(world):
    batch(world.admin)
    book = Workbook()
    sheet = book.active
    sheet.append(["产品编码", "通用名", "生产企业", "产品名称", "剂型", "规格", "包装", "计价单位", "中选价格", "状态"])
    sheet.append(["AML-01", "苯磺酸氨氯地平片", "浙江华海药业", "苯磺酸氨氯地平片", "片剂", "5mg", "28片/盒", "片", 0.15, "中选"])
    sheet.append(["AML-02", "苯磺酸氨氯地平片", "辉瑞制药", "络活喜", "片剂", "5mg", "7片/盒", "片", 4.5, "非中选"])
    buffer = io.BytesIO()
    book.save(buffer)
    ok = upload(world.admin, f"{API}/batches/B2026/products/import", buffer.getvalue(), "中选结果.xlsx")
    assert ok.status_code == 201 and ok.get_json() == {"imported": 2}
    assert world.admin.get(f"{API}/products/AML-01").get_json()["price"] == "0.15"

    gbk = ("产品编码,通用名,生产企业,产品名称,规格,计价单位,中选价格,状态\n"
           "AML-07,苯磺酸氨氯地平片,石药集团,苯磺酸氨氯地平片,5mg,片,0.13,中选\n").encode("gb18030")
    assert upload(world.admin, f"{API}/batches/B2026/products/import", gbk).status_code == 201


def test_unreadable_files_and_permissions(world):
    batch(world.admin)
    url = f"{API}/batches/B2026/products/import"
    assert "file" in problem(upload(world.admin, url, b"PK\x03\x04garbage", "x.xlsx"), 422)["errors"]
    assert "file" in problem(upload(world.admin, url, b"code,price\nA,1\n"), 422)["errors"]  # missing columns
    problem(upload(world.admin, url, HEADER.encode()), 422)  # no rows
    problem(upload(world.admin, url, b""), 422)
    problem(world.admin.post(url, {"file": "x"}), 422)  # not multipart
    problem(upload(world.bureau, url, (HEADER + GOOD[0]).encode()), 403)
    problem(upload(world.admin, f"{API}/batches/NOPE/products/import", (HEADER + GOOD[0]).encode()), 404)


def test_a_purchase_file_with_one_bad_row_records_nothing(world, as_role):
    batch(world.admin)
    product(world.admin, "B2026", "AML-SEL")
    header = "institution_code,product_code,quantity,amount,date,supplier,distributor,reference\n"
    rows = [
        "H370811001,AML-SEL,100,15.00,2026-02-01,浙江华海药业,国药控股,PO-1\n",
        "H370811001,AML-SEL,100,15.00,2026-03-01,浙江华海药业,国药控股,PO-2\n",
        "H370811001,AML-SEL,100,15.00,2099-03-01,浙江华海药业,国药控股,PO-3\n",
        "H370811001,NOPE,100,15.00,2026-03-01,浙江华海药业,国药控股,PO-4\n",
        "H370811001,AML-SEL,100,15.00,2026-03-01,浙江华海药业,国药控股,PO-1\n",
        "H999,AML-SEL,x,15.00,2026-03-01,浙江华海药业,国药控股,PO-6\n",
    ]
    body = problem(upload(world.admin, f"{API}/purchases/import", (header + "".join(rows)).encode()), 422)
    assert sorted(body["errors"]) == ["line 4", "line 5", "line 6", "line 7"]
    assert "line 2" in body["errors"]["line 6"][0]
    assert world.admin.get(f"{API}/purchases").get_json()["items"] == []

    ok = upload(world.admin, f"{API}/purchases/import", (header + "".join(rows[:2])).encode())
    assert ok.status_code == 201 and ok.get_json() == {"imported": 2, "price_deviations": 0}
    lines = world.bureau.get(f"{API}/execution?as_of=2026-12-31").get_json()["items"]
    assert [(i["purchased"], i["purchased_amount"]) for i in lines] == [(200, "30.00")]
    problem(upload(world.admin, f"{API}/purchases/import", (header + rows[0]).encode()), 422)  # PO-1 again

    # An institution imports only its own purchases.
    theirs = "H370811002,AML-SEL,1,0.15,2026-03-01,,,\n"
    assert world.admin.post("/api/v1/institutions", {"code": "H370811002", "name": "二院", "adcode": "370811"}).status_code == 201
    body = problem(upload(as_role("institution", "H370811001"), f"{API}/purchases/import", (header + theirs).encode()), 422)
    assert "institution_code" in body["rows"][0]["errors"]
    problem(upload(world.physician, f"{API}/purchases/import", (header + theirs).encode()), 403)
