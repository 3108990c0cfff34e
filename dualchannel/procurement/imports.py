"""Imports of spreadsheets (CSV or XLSX, read by `tables`): a batch's published result table
and purchase exports, all rows or none, every bad row named by its line.
"""

from sqlmodel import Session, select

from dualchannel import clock, db
from dualchannel.auth import Actor, Role
from dualchannel.errors import DomainError, FieldMessage, Forbidden, Invalid
from dualchannel.procurement import tables
from dualchannel.procurement.alerts import sync_institutions
from dualchannel.procurement.batches import check_product, get_batch, new_product, require_batch_editor
from dualchannel.procurement.models import Batch, Product, Purchase
from dualchannel.procurement.purchases import add_purchases, purchase_problems
from dualchannel.procurement.rules.agreement import ProductStatus
from dualchannel.procurement.schemas import ProductRow, PurchaseIn
from dualchannel.procurement.scope import INSTITUTION_ROLES, acting_institution
from dualchannel.procurement.standards import refresh_payment_standards


PRODUCT_HEADERS = {
    "code": "code", "product_code": "code", "产品编码": "code", "产品代码": "code", "编码": "code",
    "generic_name": "generic_name", "通用名": "generic_name", "药品通用名": "generic_name",
    "产品类别": "generic_name", "category": "generic_name",
    "manufacturer": "manufacturer", "生产企业": "manufacturer", "企业名称": "manufacturer",
    "name": "name", "product_name": "name", "产品名称": "name", "药品名称": "name", "商品名": "name",
    "dosage_form": "dosage_form", "剂型": "dosage_form",
    "specification": "specification", "规格": "specification",
    "packaging": "packaging", "包装": "packaging", "包装方式": "packaging", "规格包装": "packaging",
    "unit": "unit", "计价单位": "unit", "最小计价单位": "unit",
    "price": "price", "中选价格": "price", "中选价": "price", "挂网价": "price", "价格": "price",
    "status": "status", "状态": "status", "中选状态": "status",
    "conversion": "conversion", "转换系数": "conversion",
    "equal_quality": "equal_quality", "同等质量": "equal_quality",
    "consistency_evaluated": "consistency_evaluated", "通过一致性评价": "consistency_evaluated",
    "一致性评价": "consistency_evaluated", "过评": "consistency_evaluated",
}


def import_products(session: Session, actor: Actor, batch_code: str, *, filename: str, data: bytes) -> dict:
    """Import a batch's published result table (CSV or XLSX), all rows or none.

    Every bad row is reported with its line number (the header is line 1) and its reasons:
    invalid fields, a code repeated in the file or already known, a selected price of 0.
    """

    batch = get_batch(session, actor, batch_code)
    require_batch_editor(actor, batch)
    rows = tables.read_table(filename, data, PRODUCT_HEADERS,
                             {"code", "generic_name", "manufacturer", "name", "unit", "price", "status"})
    valid, problems = tables.validate_rows(rows, ProductRow())
    codes = [values["code"] for _, values in valid]
    known = set(session.exec(select(Product.code).where(Product.code.in_(codes)))) if codes else set()
    first_line: dict[str, int] = {}
    for number, values in valid:
        errors = check_product(values)
        code = values["code"]
        if code in known:
            errors["code"] = [FieldMessage("product_exists", f"Product {code} already exists.", product=code)]
        elif code in first_line:
            errors["code"] = [FieldMessage("row_code_repeated", f"Repeats the code of line {first_line[code]}.",
                                           line=first_line[code])]
        first_line.setdefault(code, number)
        if errors:
            problems.append({"line": number, "errors": errors})
    tables.reject(problems)
    products = [new_product(batch, values) for _, values in valid]
    session.add_all(products)
    session.flush()
    for generic in sorted({p.generic_name for p in products if p.status == ProductStatus.SELECTED}):
        refresh_payment_standards(session, batch, generic)
    db.commit(session, "A product of the file was added meanwhile; nothing was imported.", code="concurrent_change")
    return {"imported": len(products)}


PURCHASE_HEADERS = {
    "institution_code": "institution_code", "医疗机构编码": "institution_code", "机构编码": "institution_code",
    "product_code": "product_code", "产品编码": "product_code", "产品代码": "product_code",
    "quantity": "quantity", "数量": "quantity", "采购数量": "quantity",
    "amount": "amount", "金额": "amount", "采购金额": "amount",
    "date": "date", "日期": "date", "采购日期": "date",
    "supplier": "supplier", "供应企业": "supplier", "生产企业": "supplier",
    "distributor": "distributor", "配送企业": "distributor",
    "reference": "reference", "订单号": "reference", "发票号": "reference",
}


def _institution_refused(error: DomainError) -> FieldMessage:
    """A row's institution the actor may not record purchases for (`acting_institution`), as
    the row's message: the refusal's own sentence, with a code of its own."""
    if error.code == "institution_unknown":
        return FieldMessage("institution_unknown", error.detail)
    if error.code == "institution_required":
        return FieldMessage("required", error.detail)
    if error.code == "outside_region":
        return FieldMessage("institution_outside_region", error.detail)
    return FieldMessage("institution_own_only", error.detail)


def import_purchases(session: Session, actor: Actor, *, filename: str, data: bytes) -> dict:
    """Import purchase records (CSV or XLSX), all rows or none, every bad row named by line."""

    actor.require(Role.admin, Role.bureau, *INSTITUTION_ROLES)
    rows = tables.read_table(filename, data, PURCHASE_HEADERS,
                             {"institution_code", "product_code", "quantity", "amount", "date"})
    valid, problems = tables.validate_rows(rows, PurchaseIn())
    today, entries, refs, products = clock.today(), [], {}, {}
    seen_references: dict[tuple[str, str], int] = {}
    for number, values in valid:
        errors: dict[str, list[str]] = {}
        code = values["institution_code"]
        if code not in refs:
            try:
                refs[code] = acting_institution(session, actor, code, "records purchases")
            except (Invalid, Forbidden) as error:
                refs[code] = error
        if isinstance(refs[code], Exception):
            errors["institution_code"] = [_institution_refused(refs[code])]
        if values["product_code"] not in products:
            products[values["product_code"]] = session.exec(
                select(Product, Batch).join(Batch, Batch.id == Product.batch_id)
                .where(Product.code == values["product_code"])).first()
        found = products[values["product_code"]]
        if found is None:
            errors["product_code"] = [FieldMessage("product_unknown", "Unknown product.")]
        else:
            errors.update(purchase_problems(found[1], values["date"], today))
        if values.get("reference") and not isinstance(refs[code], Exception):
            key = (code, values["reference"])
            if key in seen_references:
                errors["reference"] = [FieldMessage("row_reference_repeated",
                                                    f"Repeats the reference of line {seen_references[key]}.",
                                                    line=seen_references[key])]
            elif session.exec(select(Purchase.id).where(Purchase.institution_code == code,
                                                        Purchase.reference == values["reference"])).first():
                errors["reference"] = [FieldMessage("purchase_reference_recorded", "Already recorded.")]
            seen_references.setdefault(key, number)
        if errors:
            problems.append({"line": number, "errors": errors})
        else:
            entries.append((refs[code], found[0], found[1], values))
    tables.reject(problems)
    recorded = add_purchases(session, actor, entries)
    sync_institutions(session, {ref.code for ref, _, _, _ in entries})
    db.commit(session, "A purchase of the file was recorded meanwhile; nothing was imported.",
              code="concurrent_change")
    return {"imported": len(entries), "price_deviations": sum(deviation is not None for _, deviation in recorded)}
