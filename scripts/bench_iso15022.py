"""Benchmark: parse + validate throughput of the ISO 15022 codec on one core.

Runs a mix of the golden messages (tests/iso15022/golden/*.fin) through `parse` then
`validate_message` for a fixed wall time and reports messages per second.  The last stdout line
is one JSON object (with --json), e.g. {"parse_validate_msgs_per_s": 31000, ...}.

With --baseline DIR (another checkout of the repo, e.g. `git archive <rev> | tar -x -C DIR`),
the benchmark of this tree and of DIR run alternately in subprocesses, --rounds times each, and
the JSON line gives both best rates and their ratio, so neighbours' load hits both alike.
"""

from __future__ import annotations

import argparse
import json
import re
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.iso15022 import build, decode, parse, validate_message  # noqa: E402
from api.iso15022.validate import clear_cache  # noqa: E402


def _load(variants: int) -> list[str]:
    """The golden messages, each in `variants` copies with a unique sender reference and a
    different quantity and amount, so caches see realistic traffic rather than 16 repeats."""
    files = sorted((ROOT / "tests" / "iso15022" / "golden").glob("*.fin"))
    if not files:
        raise SystemExit("no golden messages found")
    out: list[str] = []
    for i in range(variants):
        for f in files:
            text = f.read_bytes().decode("ascii")
            text = re.sub(r"(:20C::SEME//)([^\r\n]*)", lambda m: f"{m.group(1)}{m.group(2)[:10]}X{i:05d}", text)
            text = re.sub(r"(:3[6]B::\w{4}//UNIT/)(\d+),", lambda m: f"{m.group(1)}{int(m.group(2)) + i},", text)
            text = re.sub(r"(:19A::\w{4}//[A-Z]{3})(\d+),", lambda m: f"{m.group(1)}{int(m.group(2)) + i * 7},", text)
            out.append(text)
    return out


def _run(messages: list[str], seconds: float, step: str) -> tuple[int, float]:
    """Messages processed and CPU seconds used.  CPU time (not wall time) so that other jobs on
    a shared machine do not count against us; the loop is single-threaded, i.e. one core."""
    # Start each round with an empty cache of known-good field values, so unique fields (SEME,
    # quantity, amount) are really checked; repeated ones (dates, parties, codes) warm up as in
    # a real day's feed.
    clear_cache()
    count = 0
    start = time.process_time()
    deadline = start + seconds
    while True:
        for text in messages:
            m = parse(text)
            if step in ("validate", "decode"):
                if validate_message(m):
                    raise SystemExit("a golden message failed validation")
            if step == "decode":
                decode(m)
            if step == "build":
                build(m)
        count += len(messages)
        now = time.process_time()
        if now >= deadline:
            return count, now - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--seconds", type=float, default=2.0, help="wall time per measurement")
    parser.add_argument("--variants", type=int, default=1500, help="distinct copies of each golden message")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of parse+validate")
    parser.add_argument("--baseline", type=pathlib.Path, help="checkout to compare with, run alternately")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds with --baseline")
    args = parser.parse_args()
    if args.baseline is not None:
        _compare(args.baseline, args.rounds, args.seconds)
        return
    messages = _load(args.variants)
    _run(messages, 0.2, "validate")  # warm caches
    if args.profile:
        import cProfile
        import pstats

        cProfile.runctx("_run(messages, args.seconds, 'validate')", globals(), locals(), "/tmp/iso15022.prof")
        pstats.Stats("/tmp/iso15022.prof").sort_stats("tottime").print_stats(15)
    results: dict[str, object] = {}
    for step in ("parse", "validate", "decode"):
        # Best of three short rounds: the least disturbed by neighbours (cache, SMT siblings).
        rates = []
        for _ in range(3):
            n, elapsed = _run(messages, args.seconds / 3, step)
            rates.append(n / elapsed)
        results[step] = round(max(rates))
    avg = sum(len(m) for m in messages) / len(messages)
    out = {
        "parse_validate_msgs_per_s": results["validate"],
        "parse_only_msgs_per_s": results["parse"],
        "parse_validate_decode_msgs_per_s": results["decode"],
        "messages_in_mix": len(messages),
        "avg_message_chars": round(avg),
        "python": sys.version.split()[0],
    }
    if not args.json:
        for k, v in out.items():
            print(f"{k}: {v}")
    print(json.dumps(out))


def _one(root: pathlib.Path, seconds: float) -> dict[str, float]:
    import subprocess

    out = subprocess.run(
        [sys.executable, str(root / "scripts" / "bench_iso15022.py"), "--json", "--seconds", str(seconds)],
        cwd=root, check=True, capture_output=True, text=True,
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def _compare(baseline: pathlib.Path, rounds: int, seconds: float) -> None:
    keys = ("parse_validate_msgs_per_s", "parse_only_msgs_per_s", "parse_validate_decode_msgs_per_s")
    best: dict[str, dict[str, float]] = {"this": {}, "baseline": {}}
    for _ in range(rounds):
        for name, root in (("baseline", baseline.resolve()), ("this", ROOT)):
            r = _one(root, seconds)
            for k in keys:
                best[name][k] = max(best[name].get(k, 0.0), r[k])
    out: dict[str, object] = {"baseline": str(baseline), "rounds": rounds}
    for k in keys:
        out[k] = best["this"][k]
        out[f"baseline_{k}"] = best["baseline"][k]
        out[f"ratio_{k}"] = round(best["this"][k] / best["baseline"][k], 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
