"""The export's format, defined once: its 25 columns, the required ones, the key and the value sets.

Staging reads fields by these names, the temporary tables and ``raw_orders_csv``'s COPY take their
column lists from here, and the sample generator (``devtools/sample_data.py``) writes them.
``raw_orders_csv`` names each column in lower case.
"""

from __future__ import annotations

# In the order of raw_orders_csv (and of the usual export).
COLUMNS: tuple[str, ...] = (
    "ORDERNUMBER",
    "QUANTITYORDERED",
    "PRICEEACH",
    "ORDERLINENUMBER",
    "SALES",
    "ORDERDATE",
    "STATUS",
    "QTR_ID",
    "MONTH_ID",
    "YEAR_ID",
    "PRODUCTLINE",
    "MSRP",
    "PRODUCTCODE",
    "CUSTOMERNAME",
    "PHONE",
    "ADDRESSLINE1",
    "ADDRESSLINE2",
    "CITY",
    "STATE",
    "POSTALCODE",
    "COUNTRY",
    "TERRITORY",
    "CONTACTLASTNAME",
    "CONTACTFIRSTNAME",
    "DEALSIZE",
)
# Without these a row cannot become an order line of a known customer and product.
REQUIRED: tuple[str, ...] = (
    "ORDERNUMBER",
    "QUANTITYORDERED",
    "PRICEEACH",
    "ORDERLINENUMBER",
    "ORDERDATE",
    "STATUS",
    "PRODUCTCODE",
    "CUSTOMERNAME",
    "COUNTRY",
    "DEALSIZE",
)
# An order line is identified by (order, line); every other column is a value of it.
KEY: tuple[str, str] = ("ORDERNUMBER", "ORDERLINENUMBER")
VALUE_COLUMNS: tuple[str, ...] = tuple(c for c in COLUMNS if c not in KEY)

STATUSES: tuple[str, ...] = ("Shipped", "Resolved", "Cancelled", "On Hold", "Disputed", "In Process")
DEAL_SIZES: tuple[str, ...] = ("Small", "Medium", "Large")

POSITION: dict[str, int] = {name: i for i, name in enumerate(COLUMNS)}


def sql_names(names: tuple[str, ...] = COLUMNS) -> list[str]:
    """The raw_orders_csv column names of ``names`` (lower case), in the same order."""
    return [n.lower() for n in names]
