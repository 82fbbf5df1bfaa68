"""Conformance: public third-party messages (tests/iso15022/conformance/public, sources in its
README) and one generated message per schema element (conformance/generate.py)."""

from __future__ import annotations

import pathlib
import sys

import pytest

from api.iso15022 import build, parse, validate

HERE = pathlib.Path(__file__).resolve().parent / "conformance"
sys.path.insert(0, str(HERE))

from generate import cases  # noqa: E402


def _expected() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in (HERE / "expected.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, codes = line.partition(":")
            out[name.strip()] = codes.split()
    return out


EXPECTED = _expected()


def test_every_public_message_has_an_expectation() -> None:
    files = sorted(p.name for p in (HERE / "public").glob("*.fin"))
    assert files == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_public_message(name: str) -> None:
    text = (HERE / "public" / name).read_text()
    problems = validate(text, warnings=True)
    errors = [e.code for e in problems if e.severity == "error"]
    warnings = [e.code for e in problems if e.severity == "warning"]
    want = EXPECTED[name]
    if want[:1] == ["valid"]:
        assert errors == [], [str(e) for e in problems]
        assert warnings == want[1:]
    else:
        assert errors == want, [str(e) for e in problems]


CASES = list(cases())


def test_generated_cases_cover_every_mt_and_many_elements() -> None:
    assert {c.mt for c in CASES} == {"530", "535", "536", "540", "541", "542", "543", "544", "545", "546", "547", "548"}
    assert len(CASES) > 1000


def test_every_generated_message_validates_and_round_trips() -> None:
    failures = []
    for case in CASES:
        errors = validate(case.text)
        if errors:
            failures.append(f"{case.name}: {[str(e) for e in errors[:2]]}")
        elif build(parse(case.text)) != case.text:
            failures.append(f"{case.name}: round trip differs")
    assert failures == [], f"{len(failures)} of {len(CASES)} failed:\n" + "\n".join(failures[:40])
