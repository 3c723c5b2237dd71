"""Hooks for Account: type, sub-type and classification go together.

A create may give AccountType, AccountSubType or both; the missing one is
derived, and Classification always follows the type (it is read-only).
"""
from __future__ import annotations

from . import faults
from .spec import Write

# AccountType -> (Classification, the sub-type it gets when none is sent)
ACCOUNT_TYPES: dict[str, tuple[str, str]] = {
    "Bank": ("Asset", "Checking"),
    "Accounts Receivable": ("Asset", "AccountsReceivable"),
    "Other Current Asset": ("Asset", "OtherCurrentAssets"),
    "Fixed Asset": ("Asset", "MachineryAndEquipment"),
    "Other Asset": ("Asset", "OtherLongTermAssets"),
    "Accounts Payable": ("Liability", "AccountsPayable"),
    "Credit Card": ("Liability", "CreditCard"),
    "Other Current Liability": ("Liability", "OtherCurrentLiabilities"),
    "Long Term Liability": ("Liability", "OtherLongTermLiabilities"),
    "Equity": ("Equity", "OpeningBalanceEquity"),
    "Income": ("Revenue", "SalesOfProductIncome"),
    "Other Income": ("Revenue", "OtherMiscellaneousIncome"),
    "Cost of Goods Sold": ("Expense", "SuppliesMaterialsCogs"),
    "Expense": ("Expense", "OtherMiscellaneousServiceCost"),
    "Other Expense": ("Expense", "OtherMiscellaneousExpense"),
}

# The sub-types the fake knows -> their AccountType. Others are accepted as sent
# when the AccountType is given.
SUB_TYPES: dict[str, str] = {
    **{s: "Bank" for s in ("Checking", "Savings", "MoneyMarket", "CashOnHand", "TrustAccounts")},
    "AccountsReceivable": "Accounts Receivable",
    **{s: "Other Current Asset" for s in ("UndepositedFunds", "Inventory", "OtherCurrentAssets",
                                          "PrepaidExpenses", "AllowanceForBadDebts")},
    **{s: "Fixed Asset" for s in ("MachineryAndEquipment", "FurnitureAndFixtures", "Vehicles", "Buildings")},
    "OtherLongTermAssets": "Other Asset",
    "AccountsPayable": "Accounts Payable",
    "CreditCard": "Credit Card",
    **{s: "Other Current Liability" for s in ("OtherCurrentLiabilities", "SalesTaxPayable",
                                              "PayrollTaxPayable", "LineOfCredit")},
    **{s: "Long Term Liability" for s in ("OtherLongTermLiabilities", "NotesPayable")},
    **{s: "Equity" for s in ("OpeningBalanceEquity", "RetainedEarnings", "OwnersEquity",
                             "PartnerContributions", "PersonalIncome")},
    **{s: "Income" for s in ("SalesOfProductIncome", "ServiceFeeIncome", "OtherPrimaryIncome",
                             "DiscountsRefundsGiven", "NonProfitIncome", "UnappliedCashPaymentIncome")},
    **{s: "Other Income" for s in ("OtherMiscellaneousIncome", "InterestEarned", "DividendIncome")},
    **{s: "Cost of Goods Sold" for s in ("SuppliesMaterialsCogs", "CostOfLabourCos", "OtherCostsOfServiceCos",
                                         "EquipmentRentalCos", "ShippingFreightDeliveryCos")},
    **{s: "Expense" for s in ("OtherMiscellaneousServiceCost", "AdvertisingPromotional",
                              "OfficeGeneralAdministrativeExpenses", "LegalProfessionalFees", "Travel",
                              "Utilities", "RentOrLeaseOfBuildings", "BankCharges", "Insurance")},
    "OtherMiscellaneousExpense": "Other Expense",
}


def classify(account_type: str | None, sub_type: str | None) -> tuple[str, str, str]:
    """(AccountType, AccountSubType, Classification), or a fault."""
    if account_type is None:
        if sub_type is None:
            raise faults.required_missing("AccountType")
        if sub_type not in SUB_TYPES:
            raise faults.invalid_value("AccountSubType", sub_type)
        account_type = SUB_TYPES[sub_type]
    if account_type not in ACCOUNT_TYPES:
        raise faults.invalid_value("AccountType", account_type)
    classification, default_sub = ACCOUNT_TYPES[account_type]
    if sub_type is None:
        sub_type = default_sub
    elif SUB_TYPES.get(sub_type, account_type) != account_type:
        raise faults.business(f"The account sub-type {sub_type} does not belong to account type "
                              f"{account_type}.", element="AccountSubType")
    return account_type, sub_type, classification


def prepare_account(w: Write) -> None:
    kind, sub, cls = classify(w.data.get("AccountType"), w.data.get("AccountSubType"))
    w.data.update(AccountType=kind, AccountSubType=sub, Classification=cls)
    parent = w.refs.get("ParentRef")
    if parent is not None and parent.data.get("AccountType") != kind:
        raise faults.business("A sub-account must have the same type as its parent.", element="ParentRef")
