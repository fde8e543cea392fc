"""Set-up time: how long building llama-cpp-python from source takes, for the Makefile's build flags and
for flags that build only what tenure uses.

Run from the repository root::

    .venv/bin/python bench/setup_time.py [--variants NAME,...] [--sdist PATH] [--markdown]

``make demo`` compiles llama-cpp-python for this machine's CPU (see the Makefile's ``LLAMA_CMAKE_ARGS``);
on a fresh machine that is most of the set-up time. This builds the same wheel once per variant, each
with ``pip wheel`` in a fresh temporary directory with no pip cache (a fresh build environment with
scikit-build-core, a fresh CMake build tree), and measures:

* wall-clock seconds of the build, and the CPU seconds it used (user + system, all child processes),
  which moves less than wall time when something else is running on the machine;
* the build steps (compile and link commands) in the Ninja/Make log, the wheel's size and the shared
  libraries in it;
* a smoke check of the built wheel: it is installed with ``pip install --no-deps --target`` into an empty
  directory, put first on ``PYTHONPATH`` of a fresh interpreter of this venv (which has llama-cpp-python's
  pure-Python dependencies and tenure), and that interpreter loads tenure's embedded model
  (``local:gemma-3-270m``) with ``tenure.models.local.LocalModel`` and generates 32 tokens greedily (one
  thread, so other load on the machine slows it less). The texts of all variants must be the same. It
  also tries ``import llama_cpp.mtmd_cpp`` (multimodal, which tenure never imports) and says whether
  that library is there.

The variants (``--variants``, comma-separated; all by default):

* ``baseline``: the Makefile's ``LLAMA_CMAKE_ARGS`` as ``make`` computes them on this machine, with any
  ``-DLLAVA_BUILD=…`` or ``-DCMAKE_PROJECT_llama.cpp_INCLUDE=…`` taken out, so mtmd and llama-common are
  built as llama-cpp-python does by default (the build before the Makefile leaves them out);
* ``no-mtmd``: the same plus ``-DLLAVA_BUILD=OFF`` (no ``libmtmd``: vendor/llama.cpp/tools/mtmd);
* ``lean``: ``no-mtmd`` plus ``-DCMAKE_PROJECT_llama.cpp_INCLUDE=<file>``, a one-line CMake file
  (``NO_COMMON_CMAKE`` below, written to the temporary directory) that sets ``LLAMA_BUILD_COMMON`` off
  inside llama.cpp's own directory scope, so llama.cpp's ``llama-common`` library and cpp-httplib are
  not built. llama-cpp-python's CMakeLists.txt sets that option ON with ``FORCE``, so
  ``-DLLAMA_BUILD_COMMON=OFF`` has no effect; building only the ``llama`` target instead
  (``SKBUILD_BUILD_TARGETS=llama``) compiles the right files but fails at install, because llama.cpp's
  install rules still list ``llama-common``. Nothing in llama_cpp's Python code loads that library:
  the wheel ships it (in a top-level ``lib/`` of site-packages) but never uses it.

The sdist is fetched once (``pip download``, timed and shown apart) and every variant builds from that
file, so the network is not in the build times. Nothing fails on a missed target; the table says what
happened. Each build takes minutes; the load average is printed before and after each one.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/setup_time.py` puts bench/, not the repo root, on sys.path
    sys.path.insert(0, str(ROOT))

from bench.report import Row, show  # noqa: E402

PACKAGE = "llama-cpp-python"
VERSION = "0.3.36"  # the Makefile's pin
SMOKE_PROMPT = (
    "The storm had been raging for three days when the lighthouse keeper finally noticed a small boat"
)
SMOKE_TOKENS = 32
# Environment that would change the build under a variant's feet: cleared for every build.
BUILD_ENV_CLEARED = (
    "CMAKE_ARGS",
    "CMAKE_GENERATOR",
    "CMAKE_BUILD_PARALLEL_LEVEL",
    "CMAKE_MAKE_PROGRAM",
    "MAKEFLAGS",
)


@dataclass(frozen=True)
class Variant:
    name: str
    label: str
    cmake_args: list[str]

    def describe(self) -> str:
        return f'CMAKE_ARGS="{" ".join(self.cmake_args)}"'


def makefile_cmake_args() -> list[str]:
    """``LLAMA_CMAKE_ARGS`` as the Makefile computes it here, without the flags the variants add."""
    out = subprocess.run(
        [
            "make",
            "-s",
            "--no-print-directory",
            "-f",
            str(ROOT / "Makefile"),
            "--eval",
            "bench-setup-time-print: ; @echo $(LLAMA_CMAKE_ARGS)",
            "bench-setup-time-print",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    return [a for a in shlex.split(out) if not a.startswith(LEAN_FLAGS)]


LEAN_FLAGS = ("-DLLAVA_BUILD=", "-DCMAKE_PROJECT_llama.cpp_INCLUDE=")  # taken out of the baseline
NO_COMMON_CMAKE = """\
# Run right after llama.cpp's project() call (CMAKE_PROJECT_llama.cpp_INCLUDE). llama-cpp-python sets the
# cache entry LLAMA_BUILD_COMMON ON with FORCE, so no -D can turn it off; a normal variable of the same
# name shadows the cache entry in llama.cpp's directory scope, so llama.cpp configures neither its common
# library nor cpp-httplib (neither is loaded by llama_cpp's Python code).
set(LLAMA_BUILD_COMMON OFF)
"""


def variants(no_common_file: Path) -> dict[str, Variant]:
    base = makefile_cmake_args()
    no_mtmd = [*base, "-DLLAVA_BUILD=OFF"]
    return {
        "baseline": Variant("baseline", "baseline: Makefile flags (mtmd and common built)", base),
        "no-mtmd": Variant("no-mtmd", "no-mtmd: + -DLLAVA_BUILD=OFF", no_mtmd),
        "lean": Variant(
            "lean",
            "lean: + -DLLAVA_BUILD=OFF, no llama-common",
            [*no_mtmd, f"-DCMAKE_PROJECT_llama.cpp_INCLUDE={no_common_file}"],
        ),
    }


DEFAULT_VARIANTS = ("baseline", "no-mtmd", "lean")


# -- fetching and building ------------------------------------------------------------------------------


def fetch_sdist(dest: Path) -> tuple[Path, float]:
    """Download the pinned sdist once through the configured registry; the path and the seconds it took."""
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-cache-dir",
            "--no-binary",
            ":all:",
            f"{PACKAGE}=={VERSION}",
            "-d",
            str(dest),
        ],
        check=True,
    )
    (sdist,) = dest.glob("*.tar.gz")
    return sdist, time.perf_counter() - started


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def build(variant: Variant, sdist: Path, work: Path) -> dict[str, Any]:
    """``pip wheel`` the sdist with the variant's flags, in a fresh directory, verbose log kept."""
    out = work / "wheel"
    out.mkdir(parents=True)
    log_path = work / "build.log"
    env = {k: v for k, v in os.environ.items() if k not in BUILD_ENV_CLEARED and not k.startswith("SKBUILD_")}
    env["CMAKE_ARGS"] = " ".join(variant.cmake_args)
    # a build tree that outlives the build (scikit-build-core deletes its temporary one), for .ninja_log
    env["SKBUILD_BUILD_DIR"] = str(work / "build")
    cmd = [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-cache-dir"]
    cmd += ["--no-binary", PACKAGE, str(sdist), "-w", str(out)]
    (work / "tmp").mkdir()
    env["TMPDIR"] = str(work / "tmp")  # pip's build environment and scikit-build-core's build tree
    load_start = os.getloadavg()[0]
    print(f"[{variant.name}] building (load avg {load_start:.2f}): {variant.describe()}", file=sys.stderr)
    cpu_before, started = children_cpu_s(), time.perf_counter()
    with log_path.open("w") as log:
        proc = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, check=False, cwd=work)
    wall = time.perf_counter() - started
    cpu = children_cpu_s() - cpu_before
    load_end = os.getloadavg()[0]
    text = log_path.read_text(errors="replace")
    print(
        f"[{variant.name}] exit {proc.returncode} after {wall:.0f} s (load avg {load_end:.2f})",
        file=sys.stderr,
    )
    result: dict[str, Any] = {
        "ok": proc.returncode == 0,
        "wall_s": wall,
        "cpu_s": cpu,
        "load_start": load_start,
        "load_end": load_end,
        "log": str(log_path),
        "log_tail": "\n".join(text.splitlines()[-30:]),
        **parse_log(text),
    }
    result |= step_times(work / "build" / ".ninja_log")
    wheels = list(out.glob("*.whl"))
    if result["ok"] and wheels:
        result |= wheel_facts(wheels[0])
        result["wheel"] = str(wheels[0])
    return result


def parse_log(text: str) -> dict[str, Any]:
    """Generator, scikit-build-core and CMake versions, build steps, and which targets were compiled."""
    facts: dict[str, Any] = {}
    if m := re.search(r"scikit-build-core (\S+) using CMake (\S+)", text):
        facts["skbuild"], facts["cmake"] = m.group(1), m.group(2)
    if re.search(r"(?m)^\s*\[\d+/\d+\] ", text):  # Ninja's progress lines
        facts["generator"] = "Ninja"
        facts["steps"] = max(int(m.group(1)) for m in re.finditer(r"(?m)^\s*\[\d+/(\d+)\] ", text))
        if m := re.search(r"(?m)^.*\bninja\b.*-j\s*(\d+)", text):
            facts["jobs"] = int(m.group(1))
    elif re.search(r"(?m)^\s*\[\s*\d+%\] ", text):  # Unix Makefiles' progress lines
        facts["generator"] = "Unix Makefiles"
        facts["steps"] = len(re.findall(r"(?m)^\s*\[\s*\d+%\] (?:Building|Linking)", text))
    facts["mtmd_compiled"] = "CMakeFiles/mtmd.dir/" in text
    facts["common_compiled"] = "CMakeFiles/llama-common.dir/" in text
    facts["httplib_compiled"] = "CMakeFiles/cpp-httplib.dir/" in text
    return facts


def step_times(ninja_log: Path) -> dict[str, Any]:
    """Seconds of Ninja's build steps, summed by CMake target (links under "link"), from .ninja_log.

    A step's time is wall time while it ran next to the others (Ninja runs several at once: 3 on 2
    cores), so the shares are what matters, not the sums."""
    if not ninja_log.exists():
        return {}
    by_target: dict[str, float] = {}
    for line in ninja_log.read_text().splitlines():
        parts = line.split("\t")
        if line.startswith("#") or len(parts) < 4:
            continue
        m = re.search(r"CMakeFiles/([^/]+)\.dir/", parts[3])
        name = m.group(1) if m else "link" if re.search(r"\.so(\.\d+)*$", parts[3]) else "other"
        by_target[name] = by_target.get(name, 0.0) + (int(parts[1]) - int(parts[0])) / 1000
    return {"step_s": dict(sorted(by_target.items(), key=lambda kv: -kv[1]))}


def wheel_facts(wheel: Path) -> dict[str, Any]:
    names = [i for i in zipfile.ZipFile(wheel).infolist() if re.search(r"\.so(\.\d+)*$", i.filename)]
    libs = sorted({Path(i.filename).name.split(".so")[0] for i in names})
    return {
        "wheel_mb": wheel.stat().st_size / 1e6,
        "so_files": len(names),
        "so_mb": sum(i.file_size for i in names) / 1e6,
        "libs": libs,
    }


# -- the smoke check (the worker runs in a fresh interpreter with the built wheel first on the path) ---------


def smoke(wheel: Path, work: Path, models_dir: Path) -> dict[str, Any]:
    target = work / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-cache-dir"]
    subprocess.run([*pip, "--target", str(target), str(wheel)], check=True)
    env = os.environ | {"PYTHONPATH": str(target)}
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--smoke-worker", str(target), str(models_dir)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        return {"ok": False, "error": f"exit {proc.returncode}: {proc.stderr.strip()[-600:]}"}
    return {"ok": True, **json.loads(proc.stdout.strip().splitlines()[-1])}


def smoke_worker(target: Path, models_dir: Path) -> dict[str, Any]:
    started = time.perf_counter()
    import llama_cpp

    import_s = time.perf_counter() - started
    where = Path(llama_cpp.__file__).resolve()
    if not where.is_relative_to(target.resolve()):
        raise RuntimeError(f"imported llama_cpp from {where}, not from the built wheel in {target}")
    from tenure.models.local import LocalModel, gguf_path

    model = LocalModel(gguf_path(models_dir), n_ctx=512, threads=1)  # 1 thread: robust to other load
    completion = model.complete(SMOKE_PROMPT, max_tokens=SMOKE_TOKENS, stop=())
    model.close()
    try:
        importlib.import_module("llama_cpp.mtmd_cpp")  # multimodal: tenure never imports it

        mtmd = "present"
    except Exception as exc:  # the library is not in the wheel
        mtmd = f"absent ({type(exc).__name__})"
    return {
        "version": llama_cpp.__version__,
        "import_s": import_s,
        "load_s": model.load_seconds,
        "text": completion.text,
        "tokens": completion.output_tokens,
        "tok_s": completion.output_tokens / completion.seconds,
        "mtmd": mtmd,
    }


# -- the table ------------------------------------------------------------------------------------------


def step_summary(step_s: dict[str, float]) -> str:
    total = sum(step_s.values())
    if not total:
        return "?"
    shares = ", ".join(
        f"{name} {100 * sec / total:.0f}%" for name, sec in step_s.items() if sec >= total / 100
    )
    return f"{shares} (of {total:.0f} s of steps)"


def rows_for(
    chosen: list[Variant], results: dict[str, dict[str, Any]], fetch_s: float | None, sdist: Path
) -> list[Row]:
    source = (
        f"pip download {PACKAGE}=={VERSION} through the configured registry"
        if fetch_s is not None
        else "given with --sdist (not downloaded)"
    )
    rows = [
        Row(
            "sdist download (not in the build rows)",
            f"{fetch_s:.1f} s" if fetch_s is not None else "-",
            notes=f"{source}: {sdist.name}, {sdist.stat().st_size / 1e6:.0f} MB; every build below starts "
            "from this file",
        )
    ]
    base = results.get("baseline")
    smoked = [r["smoke"]["text"] for r in results.values() if r.get("smoke", {}).get("ok")]
    texts = set(smoked)
    for v in chosen:
        r = results[v.name]
        if not r["ok"]:
            rows.append(Row(v.label, f"build FAILED after {r['wall_s']:.0f} s", notes=f"log {r['log']}"))
            continue
        result = f"{r['wall_s']:.0f} s ({r['wall_s'] / 60:.1f} min) wall · {r['cpu_s']:.0f} s CPU"
        if base and base["ok"] and v.name != "baseline":
            result += (
                f" · {100 * (r['wall_s'] / base['wall_s'] - 1):+.0f}% wall, "
                f"{100 * (r['cpu_s'] / base['cpu_s'] - 1):+.0f}% CPU vs baseline"
            )
        built = [
            name
            for name, key in (
                ("mtmd", "mtmd_compiled"),
                ("llama-common", "common_compiled"),
                ("cpp-httplib", "httplib_compiled"),
            )
            if r.get(key)
        ]
        notes = [
            v.describe(),
            f"{r.get('generator', '?')}"
            + (f" -j{r['jobs']}" if r.get("jobs") else "")
            + f", {r.get('steps', '?')} build steps",
            "also compiled: " + (", ".join(built) if built else "none of mtmd / llama-common / cpp-httplib"),
            "Ninja step time by target (overlapping steps, so rough shares): "
            + step_summary(r.get("step_s", {})),
            f"wheel {r['wheel_mb']:.1f} MB, {r['so_files']} .so files ({r['so_mb']:.1f} MB unpacked): "
            + ", ".join(r["libs"]),
            f"load avg {r['load_start']:.2f} → {r['load_end']:.2f}",
        ]
        s = r.get("smoke", {})
        if s.get("ok"):
            same = (
                "the only variant checked"
                if len(smoked) == 1
                else f"same text in all {len(smoked)} variants"
                if len(texts) == 1
                else "TEXT DIFFERS between variants"
            )
            notes.append(
                f"smoke: llama_cpp {s['version']} from the built wheel; "
                f"gemma-3-270m loaded in {s['load_s']:.2f} s, "
                f"{s['tokens']} tokens at {s['tok_s']:.0f} tok/s, {same}; llama_cpp.mtmd_cpp {s['mtmd']}"
            )
        else:
            notes.append(f"smoke FAILED: {s.get('error', 'not run')}")
        rows.append(Row(v.label, result, notes="; ".join(notes)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--variants",
        default=",".join(DEFAULT_VARIANTS),
        help="comma-separated, in build order: baseline, no-mtmd, lean "
        f"(default {','.join(DEFAULT_VARIANTS)})",
    )
    parser.add_argument("--sdist", type=Path, help=f"build from this {PACKAGE} {VERSION} sdist, no download")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, wheels)")
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    parser.add_argument("--smoke-worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.smoke_worker:
        print(json.dumps(smoke_worker(*args.smoke_worker)))
        return

    cpus = os.cpu_count() or 1
    tmp = Path(tempfile.mkdtemp(prefix="tenure-bench-setup-"))
    no_common = tmp / "llama-no-common.cmake"
    no_common.write_text(NO_COMMON_CMAKE)
    known = variants(no_common)
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    if unknown := [n for n in names if n not in known]:
        shutil.rmtree(tmp, ignore_errors=True)
        parser.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    chosen = [known[n] for n in names]

    started, load_start = time.perf_counter(), os.getloadavg()[0]
    try:
        if args.sdist:
            sdist, fetch_s = args.sdist.resolve(), None
        else:
            sdist, fetch_s = fetch_sdist(tmp / "sdist")
        results: dict[str, dict[str, Any]] = {}
        for v in chosen:
            work = tmp / v.name
            work.mkdir()
            r = build(v, sdist, work)
            if r["ok"]:
                r["smoke"] = smoke(Path(r["wheel"]), work, tmp / "models")
                shutil.rmtree(work / "tmp", ignore_errors=True)
            else:
                print(r["log_tail"], file=sys.stderr)
            results[v.name] = r
        rows = rows_for(chosen, results, fetch_s, sdist)
        first = next((r for r in results.values() if r.get("cmake")), {})
        gcc = subprocess.run(
            ["gcc", "-dumpfullversion"], capture_output=True, text=True, check=False
        ).stdout.strip()
        wall = [r["wall_s"] for r in results.values() if r["ok"]]
        context = (
            f"{cpus} CPUs · {platform.machine()} {platform.system()} · load avg at start {load_start:.2f} · "
            f"Python {platform.python_version()} · {PACKAGE} {VERSION} · "
            f"scikit-build-core {first.get('skbuild', '?')} · CMake {first.get('cmake', '?')} · "
            f"gcc {gcc or '?'} · load avg at end {os.getloadavg()[0]:.2f} · "
            f"median build {statistics.median(wall) if wall else 0:.0f} s · "
            f"total bench time {(time.perf_counter() - started) / 60:.1f} min"
        )
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    show(rows, context, f"Set-up time: building {PACKAGE} {VERSION} from source", args.markdown)


if __name__ == "__main__":
    main()
