"""Same answers under two CPU code paths on one machine.

Runs the numerical tests and a reduced ``featx demo`` twice: on the machine's native kernels and
with the alternative ones forced (OpenBLAS's ``OPENBLAS_CORETYPE`` and torch's
``ATEN_CPU_CAPABILITY``), checks with threadpoolctl and torch which kernels really ran, and
compares the two demo tables cell by cell.

Tolerance, per (method, budget) cell: 1.0 accuracy point (5 of the 500 target images). The two
paths embed the images with different float32 kernels (features agree to about 1e-6 relative)
and fit the heads with different BLAS kernels (lbfgs and libsvm stop at a tolerance, not at an
exact optimum), so a test image that lies on a decision boundary may flip; an amplified-noise
bug like issue 16's moves whole cells by several points or ends in NaN, and any failed fit fails
the check. Bit-identical results are promised only for the cache on one machine and code path.

    python .ci/cross_cpu.py [--n-samples 500 | --full] [--tolerance 1.0] [--out ci-cross-cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NUMERICAL_TESTS = ["tests/test_numerics.py", "tests/test_adapt.py", "tests/test_methods.py", "tests/test_common.py",
                   "tests/test_skada_crosscheck.py"]
PROBE = ("import json, numpy, scipy.linalg, torch; from featx.utils.machine import code_paths; "
         "print(json.dumps(code_paths()))")


def probe(env) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout)


def alternative_env(native: dict) -> tuple[dict, list[str]]:
    """The environment of the second path and what it changes. OpenBLAS: Haswell (AVX2) unless
    that is already the native kernel, then Sandybridge (AVX); a machine that sets
    OPENBLAS_CORETYPE itself keeps it. torch: ATen's avx2 kernels and oneDNN capped at AVX2
    below an AVX-512 capability, else ATen's default kernels and oneDNN at SSE4.1."""
    env, changed = dict(os.environ), []
    kernels = {b["architecture"] for b in native["blas"]}
    if "OPENBLAS_CORETYPE" not in os.environ:
        env["OPENBLAS_CORETYPE"] = "Sandybridge" if kernels <= {"Haswell"} else "Haswell"
        changed.append(f"OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']}")
    wide = str(native["torch_cpu_capability"]).startswith("AVX512")
    env["ATEN_CPU_CAPABILITY"] = "avx2" if wide else "default"
    env["ONEDNN_MAX_CPU_ISA"] = "AVX2" if wide else "SSE41"  # the convolutions run in oneDNN, not ATen
    changed += [f"ATEN_CPU_CAPABILITY={env['ATEN_CPU_CAPABILITY']}", f"ONEDNN_MAX_CPU_ISA={env['ONEDNN_MAX_CPU_ISA']}"]
    return env, changed


def demo(env, out: Path, demo_args: list[str]) -> dict:
    cmd = [sys.executable, "-c", "from featx.cli.main import cli; cli()", "demo", *demo_args, "--fresh", "--strict",
           "--no-progress", "--cache-dir", str(out / "cache"), "--out", str(out / "report")]
    subprocess.run(cmd, env=env, check=True, cwd=ROOT)
    return json.loads((out / "report" / "results.json").read_text())


def feature_difference(a: Path, b: Path) -> dict:
    """How far the two paths' cached embeddings of the same images are apart."""
    import numpy as np

    from featx.extract import load_features

    out = {}
    for path in sorted((a / "cache").rglob("*.h5")):
        other = b / "cache" / path.relative_to(a / "cache")
        x, y = load_features(path).X.astype(np.float64), load_features(other).X.astype(np.float64)
        cos = (x * y).sum(1) / np.maximum(np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1), 1e-30)
        out[path.name] = {"bit_identical": bool(np.array_equal(x, y)), "max_abs_difference": float(np.abs(x - y).max()),
                          "min_cosine": float(cos.min())}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-samples", type=int, default=500)
    p.add_argument("--full", action="store_true", help="the whole demo (all digits, every budget) instead")
    p.add_argument("--tolerance", type=float, default=1.0, help="accuracy points per cell (default: %(default)s)")
    p.add_argument("--out", type=Path, default=ROOT / "ci-cross-cpu")
    args = p.parse_args(argv)
    native = probe(dict(os.environ))
    alt_env, changed = alternative_env(native)
    alternative = probe(alt_env)
    print(f"native path:      BLAS {[b['architecture'] for b in native['blas']]}, torch "
          f"{native['torch_cpu_capability']}")
    print(f"alternative path: BLAS {[b['architecture'] for b in alternative['blas']]}, torch "
          f"{alternative['torch_cpu_capability']} ({' '.join(changed)})")
    if native["blas"] == alternative["blas"] and native["torch_cpu_capability"] == alternative["torch_cpu_capability"]:
        print("cross-cpu: this machine offers one code path only; nothing to compare", file=sys.stderr)
        return 1
    print("== numerical tests on the alternative path")
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *NUMERICAL_TESTS],
                           env=alt_env, cwd=ROOT)
    if tests.returncode:
        return tests.returncode
    # the reduced run leaves fine-tuning out (minutes of CPU training; its kernels are torch's, checked
    # through the extraction comparison); --full runs the whole demo, fine-tuning included
    demo_args = [] if args.full else ["--n-samples", str(args.n_samples), "--budgets", "5,all", "--repeats", "2",
                                      "--no-finetune"]
    runs = {}
    for name, env in (("native", dict(os.environ)), ("alternative", alt_env)):
        print(f"== {'full' if args.full else 'reduced'} demo, {name} path")
        runs[name] = demo(env, args.out / name, demo_args)
    features = feature_difference(args.out / "native", args.out / "alternative")
    for name, d in features.items():
        print(f"features {name}: bit-identical {d['bit_identical']}, max |difference| {d['max_abs_difference']:.3g}, "
              f"min cosine {d['min_cosine']:.7f}")
    cells = {name: {(s["method"], str(s["budget"])): s for s in run["summary"]} for name, run in runs.items()}
    worst, lines = 0.0, ["| method | budget | native % | alternative % | difference |", "|---|---|---:|---:|---:|"]
    for key, a in cells["native"].items():
        b = cells["alternative"][key]
        diff = 100 * abs(a["accuracy"] - b["accuracy"])
        worst = max(worst, diff)
        lines.append(f"| {key[0]} | {key[1]} | {100 * a['accuracy']:.1f} | {100 * b['accuracy']:.1f} | {diff:.1f} |")
    print("\n".join(lines))
    failed = sum(len(run["failed"]) for run in runs.values())
    summary = {"native": runs["native"]["info"]["code_paths"], "alternative": runs["alternative"]["info"]["code_paths"],
               "changed": changed, "largest_difference_points": worst, "tolerance_points": args.tolerance,
               "failed_fits": failed, "demo_args": demo_args, "features": features}
    (args.out / "cross_cpu.json").write_text(json.dumps(summary, indent=2))
    print(f"largest difference {worst:.2f} points (tolerance {args.tolerance}); failed fits: {failed}")
    return 0 if worst <= args.tolerance and failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
