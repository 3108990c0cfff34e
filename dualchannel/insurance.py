"""The basic medical insurance schemes a patient is insured under: one enumeration for the whole
service (patients, settlement policies, payment standards, procurement's first self-pay)."""

from enum import StrEnum


class Insurance(StrEnum):
    EMPLOYEE = "employee"  # 职工基本医疗保险（职工医保）
    RESIDENT = "resident"  # 城乡居民基本医疗保险（居民医保）
