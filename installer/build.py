"""Build the one-folder bundle and, with --smoke, prove it starts from a clean home directory.

    python installer/build.py            # -> installer/dist/anomalygpt-inspector/
    python installer/build.py --smoke    # build, then run the bundle's --smoke-test (offscreen)
    python installer/build.py --smoke-only   # smoke-test an existing bundle

The figures (bundle size, build time, time to a ready window) are printed and written as JSON to
installer/dist/build-report.json so that the release notes quote measured numbers.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPEC = HERE / "anomalygpt_inspector.spec"
DIST = HERE / "dist"
WORK = HERE / "build"
BUNDLE = DIST / "anomalygpt-inspector"
EXECUTABLE = BUNDLE / ("anomalygpt-inspector.exe" if os.name == "nt" else "anomalygpt-inspector")
READY_MARK = "smoke: product"


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def build(clean: bool) -> float:
    """Run PyInstaller on the spec; returns seconds taken."""
    started = time.perf_counter()
    command = [sys.executable, "-m", "PyInstaller", str(SPEC), "--noconfirm", "--log-level", "WARN",
               "--distpath", str(DIST), "--workpath", str(WORK)]
    if clean:
        command.append("--clean")
    subprocess.run(command, check=True, cwd=HERE.parent)
    if os.name != "nt":  # `anomalygpt` (the engine CLI) is the same program under another name
        link = BUNDLE / "anomalygpt"
        link.unlink(missing_ok=True)
        link.symlink_to(EXECUTABLE.name)
    return time.perf_counter() - started


def clean_environment(home: Path) -> dict[str, str]:
    """A fresh user: empty home, no caches, no data folder, offline, offscreen, no Python paths."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "ANOMALYGPT", "XDG_", "HF_"))}
    env.pop("VIRTUAL_ENV", None)
    env.update(HOME=str(home), QT_QPA_PLATFORM="offscreen", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               PATH="/usr/bin:/bin")
    return env


def smoke(executable: Path = EXECUTABLE, timeout_s: float = 600) -> dict[str, object]:
    """Run `--smoke-test` from a clean temporary home; time to 'product ready' and to exit."""
    if not executable.is_file():
        raise SystemExit(f"no bundle at {executable}: build it first")
    with tempfile.TemporaryDirectory(prefix="agpt-home-") as home:
        started = time.perf_counter()
        process = subprocess.Popen([str(executable), "--smoke-test"], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, env=clean_environment(Path(home)),
                                   cwd=home)
        ready_s: float | None = None
        lines: list[str] = []
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip())
            if ready_s is None and line.startswith(READY_MARK):
                ready_s = time.perf_counter() - started
            if time.perf_counter() - started > timeout_s:
                process.kill()
                break
        code = process.wait()
        total_s = time.perf_counter() - started
        home_files = sorted(str(p.relative_to(home)) for p in Path(home).rglob("*") if p.is_file())
    return {"exit_code": code, "ready_s": ready_s, "total_s": total_s, "output": lines,
            "files_written_in_home": home_files}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="smoke-test the bundle after building")
    parser.add_argument("--smoke-only", action="store_true", help="smoke-test an existing bundle, no build")
    parser.add_argument("--clean", action="store_true", help="discard PyInstaller's cache first")
    args = parser.parse_args(argv)
    report: dict[str, object] = {}
    if not args.smoke_only:
        report["build_s"] = round(build(args.clean), 1)
    report["bundle_bytes"] = folder_size(BUNDLE)
    print(f"bundle: {BUNDLE} ({report['bundle_bytes'] / 2**20:.0f} MiB)")
    code = 0
    if args.smoke or args.smoke_only:
        result = smoke()
        print("\n".join(line for line in result["output"] if line.startswith("smoke:")))
        report.update({k: v for k, v in result.items() if k != "output"})
        print(f"smoke-test exit {result['exit_code']}; ready window after {result['ready_s']} s; "
              f"{result['total_s']:.1f} s in all")
        code = int(result["exit_code"] != 0)
    DIST.mkdir(parents=True, exist_ok=True)
    (DIST / "build-report.json").write_text(json.dumps(report, indent=2))
    return code


if __name__ == "__main__":
    raise SystemExit(main())
