"""Regenerate tests/iso15022/golden/invalid/: one failing message per validation rule, made by a
single edit of a valid golden message, and expected.txt with the exact errors each must produce.

Run after changing a golden message or an error text:  .venv/bin/python tests/iso15022/make_invalid_golden.py
(test_iso15022_validation.py checks the stored files, so a change shows up as a diff in review).
"""

from __future__ import annotations

import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from api.iso15022 import validate  # noqa: E402

GOLDEN = HERE / "golden"
OUT = GOLDEN / "invalid"

# name -> (base golden message, text to replace, replacement); replacement uses LF, stored as CRLF.
CASES: dict[str, tuple[str, str, str]] = {
    "t26_double_slash": ("mt541_newm", ":20C::SEME//B01234REF000001", ":20C::SEME//B01234//REF0001"),
    "t26_leading_slash": ("mt543_newm", ":20C::SEME//B05678DLV0042", ":20C::SEME///B05678DLV42"),
    "t50_bad_date": ("mt541_newm", ":98A::SETT//20250108", ":98A::SETT//20250230"),
    "t50_short_date": ("mt543_newm", ":98A::TRAD//20250106", ":98A::TRAD//2025016"),
    "t38_bad_time": ("mt541_newm", ":98C::PREP//20250106093000", ":98C::PREP//20250106253000"),
    "t40_no_comma": ("mt541_newm", ":19A::SETT//HKD384000,", ":19A::SETT//HKD384000"),
    "t43_no_integer": ("mt543_newm", ":19A::SETT//HKD384000,5", ":19A::SETT//HKD,5"),
    "c03_too_many_decimals": ("mt543_newm", ":19A::SETT//HKD384000,5", ":19A::SETT//HKD384000,505"),
    "t52_unknown_currency": ("mt541_newm", ":19A::SETT//HKD384000,", ":19A::SETT//XYZ384000,"),
    "t52_cnh_is_not_iso": ("mt547_conf", ":19A::ESTT//CNY384000,5", ":19A::ESTT//CNH384000,5"),
    "t14_negative_zero": ("mt535_holdings", ":19A::HOLD//HKD384000,", ":19A::HOLD//NHKD0,"),
    "t89_unknown_qualifier": ("mt541_newm", ":98A::TRAD//20250106", ":98A::FOOO//20250106"),
    "k22_unknown_indicator": ("mt541_newm", ":22F::SETR//TRAD", ":22F::SETR//XXXX"),
    "k23_function_not_for_mt": ("mt541_newm", ":23G:NEWM", ":23G:INST"),
    "k24_unknown_reason": ("mt548_rejt", ":24B::REJT//DSEC", ":24B::REJT//ABCD"),
    "k25_unknown_status": ("mt548_pack", ":25D::IPRC//PACK", ":25D::IPRC//OKAY"),
    "l11_isin_length": ("mt541_newm", ":35B:ISIN HK0000069689", ":35B:ISIN HK000006968"),
    "w11_isin_check_digit": ("mt540_newm", ":35B:ISIN HK0388045442", ":35B:ISIN HK0388045443"),
    "m60_outside_set_x": ("mt548_rejt", ":70D::REAS//UNKNOWN SECURITY /HK/9999", ":70D::REAS//UNKNOWN SECURITY #9999"),
    "e92_543_without_amount": ("mt543_newm", ":16R:AMT\n:19A::SETT//HKD384000,5\n:16S:AMT\n", ""),
    "e92_541_without_amount": ("mt541_newm", ":16R:AMT\n:19A::SETT//HKD384000,\n:16S:AMT\n", ""),
    "e84_party_twice": ("mt541_newm", ":95R::REAG/HKEX/B01234", ":95R::DEAG/HKEX/B01234"),
    "e83_apmt_without_amount": ("mt548_pend", ":19A::SETT//HKD384000,5\n", ""),
    "l06_missing_sequence": ("mt541_newm", ":16R:FIAC\n:36B::SETT//UNIT/5000,\n:97A::SAFE//B01234-001\n:16S:FIAC\n", ""),
    "l07_missing_seme": ("mt543_newm", ":20C::SEME//B05678DLV0042\n", ""),
    "l07_missing_settlement_date": ("mt543_newm", ":98A::SETT//20250108\n", ""),
    "l07_missing_isin": ("mt542_newm", ":35B:ISIN HK0941009539\nCHINA MOBILE LTD\n", ""),
    "l07_missing_safe": ("mt542_newm", ":97A::SAFE//B05678-002\n", ""),
    "l07_missing_pset": ("mt543_newm", ":16R:SETPRTY\n:95P::PSET//XHKCHKH1\n:16S:SETPRTY\n", ""),
    "l07_missing_deag": ("mt541_canc", ":16R:SETPRTY\n:95R::DEAG/HKEX/B05678\n:16S:SETPRTY\n", ""),
    "l07_missing_setr": ("mt540_newm", ":22F::SETR//OWNI\n", ""),
    "l06_545_missing_link": ("mt545_conf", ":16R:LINK\n:13A::LINK//541\n:20C::RELA//B01234REF000001\n:16S:LINK\n", ""),
    "e92_545_missing_estt": ("mt545_conf", ":16R:AMT\n:19A::ESTT//HKD384000,\n:16S:AMT\n", ""),
    "l08_field_in_wrong_sequence": ("mt543_newm", ":35B:/HK/700\nTENCENT HOLDINGS LTD\n:16S:TRADDET\n:16R:FIAC\n:36B::SETT//UNIT/1000,", ":35B:/HK/700\nTENCENT HOLDINGS LTD\n:36B::SETT//UNIT/1000,\n:16S:TRADDET\n:16R:FIAC"),
    "l08_unknown_sequence": ("mt548_pack", ":16S:GENL\n", ":16S:GENL\n:16R:REPO\n:16S:REPO\n"),
    "l09_duplicate_qualifier": ("mt541_newm", ":98A::SETT//20250108\n", ":98A::SETT//20250108\n:98C::SETT//20250108100000\n"),
    "l05_unbalanced_sequence": ("mt548_pack", ":16S:STAT", ":16S:STATUS"),
    "l05_unclosed_sequence": ("mt548_pack", ":16S:GENL\n", ""),
    "l03_truncated": ("mt541_canc", ":16S:SETDET\n-}", ":16S:SETDET\n"),
    "l02_wrong_block_order": ("mt548_pack", "{1:F01XHKCHKH1AXXX0000000005}{2:I548BROKHKHHAXXXN}", "{2:I548BROKHKHHAXXXN}{1:F01XHKCHKH1AXXX0000000005}"),
    "l02_text_outside_blocks": ("mt548_pack", "{4:", "{3:{108:X}}{9:"),
    "l01_bad_basic_header": ("mt548_pack", "{1:F01XHKCHKH1AXXX0000000005}", "{1:F01XHKCHKH1AXX0000000005}"),
    "t40_quantity_two_commas": ("mt541_newm", ":36B::SETT//UNIT/5000,", ":36B::SETT//UNIT/5000,,"),
    "l10_bad_bic": ("mt541_newm", ":95P::PSET//XHKCHKH1", ":95P::PSET//XHKC1"),
    "l10_malformed_tag": ("mt548_pack", ":23G:INST", ":2G:INST"),
    "l01_bad_user_reference": ("mt541_newm", "{108:B01234REF000001}", "{108:B01234REF0000001X}"),
    "l01_bad_checksum": ("mt541_newm", "{CHK:3A5B9C0D1E2F}", "{CHK:3A5B9C0D1E2G}"),
    "l12_unsupported_mt": ("mt548_pack", "{2:I548", "{2:I599"),
    "l13_reason_not_status": ("mt548_pend", ":24B::PEND//LACK", ":24B::PENF//LACK"),
    "l14_cancel_without_prev": ("mt541_canc", ":16R:LINK\n:20C::PREV//B01234REF000001\n:16S:LINK\n", ""),
    "l04_oversize": ("mt548_pack", ":16S:STAT\n", ":16S:STAT\n" + ":16R:STAT\n:25D::MTCH//MACH\n:16S:STAT\n" * 260),
}


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for stale in OUT.glob("*.fin"):
        stale.unlink()
    lines: list[str] = []
    for name, (base, old, new) in sorted(CASES.items()):
        text = (GOLDEN / f"{base}.fin").read_bytes().decode("ascii").replace("\r\n", "\n")
        if old not in text:
            raise SystemExit(f"{name}: {old!r} not in {base}")
        bad = text.replace(old, new, 1).replace("\n", "\r\n")
        (OUT / f"{name}.fin").write_bytes(bad.encode("ascii"))
        errors = validate(bad, warnings=True)
        if not errors:
            raise SystemExit(f"{name}: no error")
        lines.extend(f"{name}: {e}" for e in errors)
    (OUT / "expected.txt").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
