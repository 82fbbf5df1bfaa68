"""Copy the portal's third-party browser assets from node_modules into api/portal/static/vendor/.

The portal's runtime needs no Node: the UMD build of Chart.js (pinned in package.json) and its licence are
committed under api/portal/static/vendor/. Run after `npm install` whenever the pinned version changes:

    .venv/bin/python scripts/vendor_portal_assets.py [--check]

`--check` compares instead of copying and exits 1 on a difference (the committed copy must be the pinned one).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "api" / "portal" / "static" / "vendor"
# (npm package, file inside the package, name under vendor/)
ASSETS = (
    ("chart.js", "dist/chart.umd.min.js", "chart.umd.min.js"),
    ("chart.js", "LICENSE.md", "chart.js-LICENSE.md"),
    # bundled inside chart.umd.min.js (a dependency of chart.js, MIT): its licence travels with it
    ("@kurkle/color", "LICENSE.md", "kurkle-color-LICENSE.md"),
)


def _pinned(package: str) -> str | None:
    """The exact version package.json pins (None: a dependency of a pinned package, fixed by package-lock.json)."""
    pins: dict[str, str] = json.loads((ROOT / "package.json").read_text())["devDependencies"]
    return pins.get(package)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with node_modules; exit 1 on a difference")
    args = ap.parse_args()
    manifest: dict[str, dict[str, str]] = {}
    bad = 0
    for package, src_rel, name in ASSETS:
        pkg_dir = ROOT / "node_modules" / package
        installed = json.loads((pkg_dir / "package.json").read_text())["version"]
        if _pinned(package) is not None and installed != _pinned(package):
            print(f"{package}: node_modules has {installed}, package.json pins {_pinned(package)}; "
                  "run `npm install --no-fund --no-audit`", file=sys.stderr)
            return 1
        data = (pkg_dir / src_rel).read_bytes()
        dest = VENDOR / name
        if args.check:
            if not dest.is_file() or dest.read_bytes() != data:
                print(f"{dest.relative_to(ROOT)} differs from {package}@{installed}/{src_rel}", file=sys.stderr)
                bad += 1
        else:
            VENDOR.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        manifest[name] = {"package": package, "version": installed, "source": src_rel,
                          "sha256": hashlib.sha256(data).hexdigest()}
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    mpath = VENDOR / "MANIFEST.json"
    if args.check:
        if not mpath.is_file() or mpath.read_text() != text:
            print(f"{mpath.relative_to(ROOT)} is stale", file=sys.stderr)
            bad += 1
        return 1 if bad else 0
    mpath.write_text(text)
    for name, m in manifest.items():
        print(f"{name}: {m['package']}@{m['version']} {m['sha256'][:16]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
