"""Code lists: ISO 4217 currencies with their decimals, and the codes our MTs accept per qualifier.

Kept as plain frozensets/dicts so lookups on the hot path are a single hash probe.
"""

from __future__ import annotations

# ISO 4217 active codes -> number of decimals.  Default 2; the exceptions are listed explicitly.
_TWO_DECIMALS = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD "
    "CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD "
    "GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD "
    "MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP "
    "PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS "
    "TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES WST XCD YER ZAR ZMW ZWG"
).split()
_ZERO_DECIMALS = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split()
_THREE_DECIMALS = "BHD IQD JOD KWD LYD OMR TND".split()

CURRENCY_DECIMALS: dict[str, int] = {
    **{c: 2 for c in _TWO_DECIMALS},
    **{c: 0 for c in _ZERO_DECIMALS},
    **{c: 3 for c in _THREE_DECIMALS},
}
# Offshore renminbi trades as CNH in the market but is CNY on the wire (spec); CNH is not ISO 4217.

# 22F indicator codes by qualifier (without a data source scheme; with one, any 4!c is allowed).
INDICATOR_CODES: dict[str, frozenset[str]] = {
    "SETR": frozenset("TRAD REPU RVPO SECB SECL OWNI OWNE INSP CNCB COLI COLO PLAC TURN".split()),
    "STCO": frozenset("NOMC PART NPAR PARC PARQ PHYS DLWM SPDL SPST UNEX TRAN".split()),
    "RTGS": frozenset("YRTG NRTG".split()),
    "BENE": frozenset("YBEN NBEN".split()),
    "PRSS": frozenset("PART NPAR PARC PARQ".split()),
    "HOLD": frozenset("YHLD NHLD".split()),
    "SFRE": frozenset("ADHO DAIL WEEK MNTH YEAR INDA".split()),
    "CODE": frozenset("COMP DELT".split()),
    "STTY": frozenset("CUST ACCT".split()),
    "STBA": frozenset("SETT TRAD".split()),
    "TRAN": frozenset("SETT CORP BOLE COLL".split()),
}
# 22H indicator codes.
INDICATOR_H_CODES: dict[str, frozenset[str]] = {
    "REDE": frozenset("RECE DELI".split()),
    "PAYM": frozenset("APMT FREE".split()),
    "STST": frozenset("TRAN STAT".split()),
}
# 23G function of the message, per MT.
FUNCTIONS: dict[str, frozenset[str]] = {
    "540": frozenset({"NEWM", "CANC"}),
    "541": frozenset({"NEWM", "CANC"}),
    "542": frozenset({"NEWM", "CANC"}),
    "543": frozenset({"NEWM", "CANC"}),
    "544": frozenset({"NEWM", "CANC", "RVSL"}),
    "545": frozenset({"NEWM", "CANC", "RVSL"}),
    "546": frozenset({"NEWM", "CANC", "RVSL"}),
    "547": frozenset({"NEWM", "CANC", "RVSL"}),
    "548": frozenset({"INST", "CAST"}),
    "530": frozenset({"NEWM"}),
    "535": frozenset({"NEWM", "CANC", "REPL"}),
    "536": frozenset({"NEWM", "CANC", "REPL"}),
}
ALL_FUNCTIONS = frozenset().union(*FUNCTIONS.values())
SUBFUNCTIONS = frozenset({"CODU", "COPY", "DUPL"})

# 25D status qualifier -> status codes.
STATUS_CODES: dict[str, frozenset[str]] = {
    "IPRC": frozenset({"PACK", "REJT", "CAND", "CANP", "PPRC"}),
    "CPRC": frozenset({"PACK", "REJT", "CAND", "DEND"}),
    "MTCH": frozenset({"MACH", "NMAT"}),
    "SETT": frozenset({"PEND", "PENF"}),
}
# 24B reason qualifier (= the status code it explains) -> reason codes.
_PENDING = frozenset("LACK MONY CLAC CMON BLOC CYCL FUTU PART PREA LINK OTHR NOFX".split())
REASON_CODES: dict[str, frozenset[str]] = {
    "PEND": _PENDING,
    "PENF": _PENDING,
    "NMAT": frozenset("CMIS DDAT DDEA DMON DQUA DEPT DSEC DTRD DCUR ICAG NCRR OTHR".split()),
    "REJT": frozenset(
        "ADEA CASH DDAT DEPT DMON DQUA DSEC ICAG ICUS LATE NCRR OTHR PLCE REFE SAFE SETR".split()
    ),
    "CAND": frozenset("CANI CANS CSUB OTHR".split()),
    "DEND": frozenset("DCAN DPRG OTHR".split()),
}
# What each pending/unmatched reason means, for narratives and docs.
REASON_TEXT: dict[str, str] = {
    "LACK": "lack of securities",
    "MONY": "insufficient money",
    "CLAC": "counterparty lacks securities",
    "CMON": "counterparty insufficient money",
    "BLOC": "account blocked",
    "CYCL": "awaiting next settlement cycle",
    "FUTU": "awaiting settlement date",
    "CMIS": "no counterpart instruction",
    "DDAT": "settlement date mismatch",
    "DDEA": "deal price mismatch",
    "DMON": "settlement amount mismatch",
    "DQUA": "quantity mismatch",
    "DEPT": "place of settlement mismatch",
    "DSEC": "security unknown or mismatch",
    "SAFE": "safekeeping account unknown",
    "REFE": "duplicate reference",
    "OTHR": "see narrative",
}
QUANTITY_TYPES = frozenset({"UNIT", "FAMT", "AMOR"})
PRICE_TYPES = frozenset({"ACTU", "DISC", "PREM", "PARV"})
PAGE_INDICATORS = frozenset({"ONLY", "LAST", "MORE"})
