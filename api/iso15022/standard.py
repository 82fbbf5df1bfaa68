"""The Category 5 message structures we validate: MT530, MT535, MT536, MT540-MT548.

Data only (see `schema.F` / `schema.S` for the spelling).  Sequences, subsequences, fields, the
qualifiers of each generic field with their letter options, mandatory (`!`) and repeatable (`*`)
status, as in the SWIFT Standards MT Category 5 documentation (SR 2018 onward) and the ISO 15022
data field dictionary.  Network-validated rules that span fields are in `network.py`; code lists
per qualifier are in `codes.py`.  The reference table in docs/iso15022-schema.md is generated
from this module (scripts/iso15022_schema_doc.py).
"""

from __future__ import annotations

from .schema import F, S, SeqRule, set_homes, walk_rules

# --------------------------------------------------------------------------------------------
# Building blocks shared by several MTs (functions, so each MT gets its own rule objects and its
# own "where" in error messages).

_PREP = "PREP:ACE"
_LINK_REFS = "POOL PREA PREV RELA TRRF COMM COLR CERT CORP CLCI CLTR PCTI TRCI TCTR MITI"
_SETTLE_PARTIES = (
    "BUYR:PQR DEAG:PQR DECU:PQR DEI1:PQR DEI2:PQR PSET:CPQ REAG:PQR RECU:PQR REI1:PQR REI2:PQR "
    "SELL:PQR *ALTE:LS"
)
_AMOUNTS = (
    "ACRU CHAR COUN DEAL EXEC ISDI LADT LEVY LOCL LOCO MARG OTHR REGF SETT SHIP SPCN STAM STEX "
    "TRAN TRAX VATA WITH ANTO BOOK COAX ACCA RSCH RESU OCMT ESTT"
)
_SETDET_22F = (
    "!SETR *STCO TRCA STAM RTGS REGT BENE CASY DBNM TCPI MACL FXCX BLOC REST SETS NETT CCPT "
    "LEOG COLA TRAK REPT COLE SSBT CSBT"
)
_BALANCES = (
    "AVAI NAVL AWAS BLCA BLOK BLOT BLOV BORR BODE BORE COLI COLO LOAN LODE LORE NOMI PECA PEDA "
    "PEND PENR PLED REGO RSTR SPOS TRAN DRAW ISSU QUAS SPOD SPOR CLEN"
)
_STATUS = (
    "IPRC CPRC MTCH SETT INMH AFFM ALOC CALL DEAC EPRC REPL RPRC TPRC SPLT RESC CNTS PRCS"
)
_REASONS = "CAND CANP CGEN CPRC DEND NMAT PACK PEND PENF PPRC REJT REPR INMH AFFM"


def _link(refs: str = _LINK_REFS, m: bool = False, with_pair: bool = True) -> SeqRule:
    return S(
        "LINK",
        F("22F", "LINK"),
        F("13", "LINK:AB"),
        F("20C", refs, one=True),
        *( [F("36B", "PAIR TURN")] if with_pair else []),
        m=m,
        r=True,
    )


def _fia() -> SeqRule:
    return S(
        "FIA",
        F("94B", "PLIS"),
        F("22F", "MICO FORM PFRE PAYS CFRE"),
        F("12", "*CLAS:AC OPST:B OPTI:B"),
        F("11A", "DENO"),
        F("98A", "COUP EXPI FRNR MATU ISSU CALD PUTT DDTE FCOU"),
        F("92A", "PRFC CUFC NWFC INTR NXRT INDX YTMR"),
        F("13", "COUP:AB POOL:B"),
        F("17B", "FRNF CALL PUTT"),
        F("90", "INDC:AB MRKT:AB EXER:AB"),
        F("36B", "MINO SIZE"),
        F("35B", r=True),
        F("70E", "FIAN"),
    )


def _setprty(m: bool) -> SeqRule:
    return S(
        "SETPRTY",
        F("95", _SETTLE_PARTIES, one=True),
        F("97", "SAFE:AB"),
        F("98", "PROC:AC"),
        F("20C", "PROC"),
        F("70", "DECL:E REGI:D PACO:C"),
        m=m,
        r=True,
    )


def _cshprty() -> SeqRule:
    return S(
        "CSHPRTY",
        F("95", "ACCW:PQR BENM:PQR DEBT:PQR INTM:PQR PAYE:PQR *ALTE:LS", one=True),
        F("97", "CASH:AE CHAR:AE COMM:AE TAXE:AE"),
        F("70", "DECL:E PACO:C"),
        r=True,
    )


def _amt(confirmation: bool) -> SeqRule:
    extra = [F("98", "VALU:AC")] if confirmation else []
    return S(
        "AMT",
        F("17B", "ACRU STAM EXEC"),
        F("19A", _AMOUNTS, one=True),
        *extra,
        F("92B", "EXCH"),
        r=True,
    )


def _othrprty() -> SeqRule:
    return S(
        "OTHRPRTY",
        F("95", "EXCH:PQR MEOR:PQR MERE:PQR TRRE:PQR INVE:CPQR VEND:PQR TRAG:PQR BRKR:PQR *ALTE:LS", one=True),
        F("97A", "SAFE"),
        F("70", "DECL:E REGI:D PACO:C"),
        F("20C", "PROC"),
        r=True,
    )


def _repo() -> SeqRule:
    return S(
        "REPO",
        F("98", "TERM:ABC RERA:AC"),
        F("22F", "RERT MICO REVA LEGA OMAT INTR"),
        F("20C", "SECO REPO"),
        F("92", "VASU:C REPO:A RSPR:A PRIC:AC SLMG:A SHAI:A"),
        F("99B", "CADE TOCO"),
        F("19A", "FORF TRTE REPP ACRU DEAL TAPC"),
        F("70C", "SECO"),
    )


def _break() -> SeqRule:
    return S(
        "BREAK",
        F("13B", "LOTS"),
        F("36B", "LOTS"),
        F("98", "LOTS:ACE"),
        F("90", "LOTS:AB"),
        F("22F", "PRIC"),
        r=True,
    )


def _settlement(confirmation: bool) -> SeqRule:
    """MT540-543 (instructions) and MT544-547 (confirmations): one layout per family."""
    qty = "!*ESTT" if confirmation else "!*SETT"
    dates = "!ESET:ACE SETT:ABC" if confirmation else "!SETT:ABC"
    return S(
        "",
        S(
            "GENL",
            F("20C", "!SEME"),
            F("23G", m=True),
            F("98", _PREP),
            F("99B", "SETT TOSE"),
            _link(m=confirmation),
            m=True,
        ),
        S(
            "TRADDET",
            F("94", "CLEA:HL *TRAD:BL"),
            F("98", f"{dates} TRAD:ABCE ADEL:AC CERT:AC"),
            F("90", "DEAL:AB"),
            F("99A", "DAAC"),
            F("35B", m=True),
            _fia(),
            F("22F", "*PROC *RPOR PRIR BORR *TTCO INCA TRCA PRIC"),
            F("11A", "FXIS"),
            F("25D", "MTCH AFFM"),
            F("70E", "FXIN SPRO"),
            m=True,
        ),
        S(
            "FIAC",
            F("36B", qty),
            F("70D", "DENC"),
            F("13B", "*CERT"),
            F("95", "ACOW:PR *ALTE:L"),
            F("97", "!SAFE:AB CASH:AE REGI:AB"),
            F("94", "SAFE:BCFL"),
            _break(),
            m=True,
        ),
        _repo(),
        S(
            "SETDET",
            F("22F", _SETDET_22F),
            _setprty(m=True),
            _cshprty(),
            _amt(confirmation),
            m=True,
        ),
        _othrprty(),
    )


# --------------------------------------------------------------------------------------------
# MT548 settlement status and processing advice

def _mt548() -> SeqRule:
    return S(
        "",
        S(
            "GENL",
            F("20C", "!SEME"),
            F("23G", m=True),
            F("98", _PREP),
            _link(m=True, with_pair=False),
            S(
                "STAT",
                F("25D", _STATUS, one=True),
                S("REAS", F("24B", _REASONS, one=True), F("70D", "REAS"), r=True),
                m=True,
                r=True,
            ),
            m=True,
        ),
        S(
            "SETTRAN",
            F("94", "CLEA:HL TRAD:BL SAFE:BCFL"),
            F("35B", m=True),
            _fia(),
            F("36B", "!*SETT"),
            F("19A", "SETT ESTT"),
            F("97", "!SAFE:AB CASH:AE"),
            F("22F", "!SETR *STCO TRCA STAM RTGS REGT BENE CASY DBNM TCPI MACL FXCX BLOC REST SETS NETT CCPT LEOG COLA TRAK REPT COLE SSBT CSBT"),
            F("22H", "!REDE !PAYM"),
            F("98", "!SETT:ABCE TRAD:ABCE ESET:AC EXSE:AC"),
            F("70E", "SPRO"),
            _setprty(m=False),
            _cshprty(),
            _amt(confirmation=False),
        ),
    )


# --------------------------------------------------------------------------------------------
# MT530 transaction processing command

def _mt530() -> SeqRule:
    return S(
        "",
        S(
            "GENL",
            F("20C", "!SEME"),
            F("23G", m=True),
            F("98", _PREP),
            F("95", "ACOW:PR"),
            F("97", "SAFE:AB"),
            m=True,
        ),
        S(
            "REQD",
            F("22F", "PRSS HOLD PRIR RHDI LINK TPIR PRIO", one=True),
            F("98", "REQU:AC"),
            F("70E", "ADTX"),
            S("LINK", F("13", "LINK:AB"), F("20C", "!RELA PREV PCTI MITI POOL COMM TRRF"), m=True),
            m=True,
            r=True,
        ),
    )


# --------------------------------------------------------------------------------------------
# MT535 statement of holdings, MT536 statement of transactions

def _statement_genl(mt: str) -> SeqRule:
    if mt == "535":
        specific = [
            F("98", "PREP:ACE !STAT:ACE"),
            F("22F", "!SFRE !CODE !STTY !STBA"),
            F("17B", "!ACTI !AUDT !CONS"),
        ]
    else:
        specific = [
            F("98", "PREP:ACE"),
            F("69", "!STAT:AB"),
            F("22F", "!SFRE !CODE STBA"),
            F("22H", "STST"),
            F("17B", "!ACTI !CONS"),
        ]
    return S(
        "GENL",
        F("28E", m=True),
        F("13", "STAT:AB"),
        F("20C", "!SEME"),
        F("23G", m=True),
        *specific,
        _link("PREV RELA", with_pair=False),
        F("95", "ACOW:LPR"),
        F("97", "!SAFE:AB"),
        m=True,
    )


def _mt535() -> SeqRule:
    return S(
        "",
        _statement_genl("535"),
        S(
            "SUBSAFE",
            F("97", "SAFE:AB"),
            F("94", "SAFE:BCFL"),
            F("17B", "!ACTI"),
            S(
                "FIN",
                F("35B", m=True),
                _fia(),
                F("90", "MRKT:AB INDC:AB"),
                F("94B", "PRIC"),
                F("98", "PRIC:AC"),
                F("93B", "!*AGGR *AVAI *NAVL"),
                F("19A", "*HOLD *ACRU *BOOK"),
                F("92B", "EXCH"),
                F("99A", "DAAC"),
                F("70", "HOLD:E"),
                S(
                    "SUBBAL",
                    F("93", " ".join(f"*{b}:BC" for b in _BALANCES.split()), one=True),
                    F("94", "SAFE:BCFL"),
                    F("90", "MRKT:AB INDC:AB"),
                    F("98", "PRIC:AC"),
                    F("70C", "SUBB"),
                    r=True,
                ),
                r=True,
            ),
            r=True,
        ),
        S("ADDINFO", F("19A", "HOLP HOLS")),
    )


def _mt536() -> SeqRule:
    return S(
        "",
        _statement_genl("536"),
        S(
            "SUBSAFE",
            F("97", "SAFE:AB"),
            F("94", "SAFE:BCFL"),
            F("17B", "!ACTI"),
            S(
                "FIN",
                F("35B", m=True),
                _fia(),
                F("90", "MRKT:AB INDC:AB"),
                F("93B", "*FIOP *FICL"),
                S(
                    "TRAN",
                    _link("RELA PREV POOL COMM TRRF PCTI MITI CORP ASRF", m=True, with_pair=False),
                    S(
                        "TRANSDET",
                        F("94", "CLEA:HL TRAD:BL SAFE:BCFL"),
                        F("36B", "!*PSTA"),
                        F("19A", "PSTA ACRU"),
                        F("22F", "!TRAN *STCO SETR RTGS REGT BENE CASY TRCA REPT"),
                        F("22H", "!REDE !PAYM"),
                        F("98", "!ESET:ACE SETT:ABC TRAD:ABCE"),
                        F("25D", "MTCH AFFM"),
                        F("70E", "TRDE"),
                        _setprty(m=False),
                        m=True,
                    ),
                    m=True,
                    r=True,
                ),
                r=True,
            ),
            r=True,
        ),
    )


SCHEMAS: dict[str, SeqRule] = {
    "530": _mt530(),
    "535": _mt535(),
    "536": _mt536(),
    "548": _mt548(),
}
for _mt in ("540", "541", "542", "543"):
    SCHEMAS[_mt] = _settlement(confirmation=False)
for _mt in ("544", "545", "546", "547"):
    SCHEMAS[_mt] = _settlement(confirmation=True)

# Where each tag may live, per MT: used to say "belongs in FIAC" for a misplaced field.
FIELD_HOMES: dict[str, dict[str, list[str]]] = {}
for _mt, _rule in SCHEMAS.items():
    FIELD_HOMES[_mt] = {}
    set_homes(_rule, "", FIELD_HOMES[_mt])


def all_rules() -> list[SeqRule]:
    """Every distinct sequence rule of every MT."""
    out: dict[int, SeqRule] = {}
    for rule in SCHEMAS.values():
        for _, r in walk_rules(rule):
            out.setdefault(id(r), r)
    return list(out.values())
