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

def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


# 22F indicator codes by qualifier (ISO 15022 data field dictionary), used when no data source
# scheme is given; with a scheme, the scheme owner defines the codes (any 4!c).  A qualifier
# without a list here takes any 4!c code.
INDICATOR_CODES: dict[str, frozenset[str]] = {
    "SETR": _codes(
        "AUTO BSBK BYIY CLAI CNCB COLI COLO CONV CORP ETFT FCTA INSP ISSU MKDW MKUP NETT NSYN "
        "OWNE OWNI PAIR PLAC PORT REAL REDI REDM RELE REPU RODE RPTO RVPO SBBK SBRE SECB SECL "
        "SLRE SUBS SWIF SWIT SYND TBAC TRAD TRPO TRVO TURN"
    ),
    "STCO": _codes(
        "ADEA BPSS CLEN DIRT DLWM DRAW EXER FRCL FUTU KNOC NACT NOMC NPAR PARC PARQ PART PENS "
        "PHYS PRAC RESI RHYP RPTO SHOR SPDL SPST TRAN TRIP UNEX"
    ),
    "RTGS": _codes("YRTG NRTG"),
    "BENE": _codes("YBEN NBEN"),
    "REGT": _codes("YREG NREG"),
    "NETT": _codes("NETT"),
    "TRCA": _codes("AGEN BAGN CAGN INFI MKTM MLTF OAGN PRAG PRIN RISP"),
    "LINK": _codes("AFTE BEFO INFO WITH"),
    "FORM": _codes("BEAR REGD"),
    "PRSS": _codes("PART NPAR PARC PARQ"),
    "HOLD": _codes("YHLD NHLD"),
    "SFRE": _codes("ADHO DAIL INDA MNTH QUTR WEEK YEAR"),
    "CODE": _codes("COMP DELT"),
    "STTY": _codes("ACCT CUST"),
    "STBA": _codes("CONT SETT TRAD"),
    "TRAN": _codes("BOLE COLL CORP SETT"),
}
# 22H indicator codes.
INDICATOR_H_CODES: dict[str, frozenset[str]] = {
    "REDE": _codes("RECE DELI"),
    "PAYM": _codes("APMT FREE"),
    "STST": _codes("TRAN STAT"),
}
# 23G function of the message, per MT.
FUNCTIONS: dict[str, frozenset[str]] = {
    **{mt: _codes("NEWM CANC PREA") for mt in ("540", "541", "542", "543")},
    **{mt: _codes("NEWM CANC RVSL") for mt in ("544", "545", "546", "547")},
    "548": _codes("INST CAST"),
    "530": _codes("NEWM"),
    "535": _codes("NEWM CANC REPL"),
    "536": _codes("NEWM CANC REPL"),
}
ALL_FUNCTIONS = frozenset().union(*FUNCTIONS.values())
SUBFUNCTIONS = _codes("CODU COPY DUPL")

# 25D status qualifier -> status codes.
STATUS_CODES: dict[str, frozenset[str]] = {
    "IPRC": _codes("CAND CANP CPRC NMAT PACK PPRC REJT REPR"),
    "CPRC": _codes("CAND CANP DEND PACK REJT"),
    "MTCH": _codes("MACH NMAT"),
    "SETT": _codes("PEND PENF"),
    "AFFM": _codes("AFFI NAFI"),
}
# 24B reason qualifier (= the status code it explains) -> reason codes.
_PENDING = _codes(
    "ADEA AWMO AWSH BATC BENO BLOC BOTH BYIY CAIS CANR CERT CHAS CLAC CLAT CLHT CMON COLL CPEC "
    "CSDH CVAL CYCL DENO DEPO DKNY DOCC DOCY FLIM FROZ FUTU GLOB IAAD INBC INCA LAAW LACK LALO "
    "LATE LINK MINO MLAT MONY MUNO NCON NEWI NOFX OBJT OTHR PART PHCK PHSE PRCY PREA REFS REGT "
    "SBLO TAMM YCOL"
)
_COMMON_MISMATCH = (
    "ADEA CASH CASY DCMX DDAT DDEA DELN DEPT DMON DQUA DSEC DTRA DTRD ICAG ICUS IEXE IIND NCRR "
    "OTHR PHYS PLCE PODU REGD RTGS SAFE SETR SETS TXST DCUR"
)
REASON_CODES: dict[str, frozenset[str]] = {
    "PEND": _PENDING,
    "PENF": _PENDING,
    "NMAT": _codes(_COMMON_MISMATCH + " CMIS FRAP IIND MIME NARR"),
    "REJT": _codes(_COMMON_MISMATCH + " CAEV INPS INVB INVL INVN LATE MINO MUNO REFE ICUT"),
    "CAND": _codes("CANI CANS CANT CANZ CORP CSUB SCEX OTHR"),
    "DEND": _codes("DCAN DFOR DPRG DREP DSET OTHR"),
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
