"""The figures of `scripts/bench`, each beside its goal and, where one runs here, its anchor.

Input (flags): the gpuplan binary, criterion's output directory (the in-process benches have
run), optionally a Python with the Helm v4 engine (helm-python-sdk) and the upstream chart.
Output: a table on stdout, one row per figure: gpuplan's median, the goal, the anchor and the
ratio anchor / gpuplan. Whole-process figures are wall-clock medians of fresh processes, with
the peak resident memory of the largest one (wait4's ru_maxrss); in-process figures are
criterion's median estimates. This machine is shared and noisy: the ratios are what matters.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEED = [
    "--set", "operator.defaultRuntime=containerd",
    "--set", "toolkit.env[0].name=CONTAINERD_CONFIG",
    "--set", "toolkit.env[0].value=/etc/containerd/config.toml",
    "--set", "toolkit.env[1].name=CONTAINERD_SOCKET",
    "--set", "toolkit.env[1].value=/run/containerd/containerd.sock",
    "--set", "toolkit.env[2].name=CONTAINERD_RUNTIME_CLASS",
    "--set", "toolkit.env[2].value=nvidia",
    "--set", "toolkit.env[3].name=CONTAINERD_SET_AS_DEFAULT",
    "--set", "toolkit.env[3].value=true",
]

HELM_RENDER = """
import json, statistics, sys, time
import helm_python as helm
chart_dir, runs = sys.argv[1], int(sys.argv[2])
times, objects = [], 0
for _ in range(runs):
    start = time.perf_counter()
    with helm.Chart.load(chart_dir) as chart:
        manifests = chart.render(values={}, name="gpu-operator", namespace="gpu-operator", is_install=True)
    times.append(time.perf_counter() - start)
    objects = sum(text.count("\\nkind: ") + text.startswith("kind: ") for text in manifests.values())
print(json.dumps({"median_ms": statistics.median(times) * 1000, "objects": objects}))
"""


def launcher():
    """scripts/lib/peak.c built into target/, or None without a C compiler. A process started
    from Python reports Python's resident memory as its own peak when that is larger (the
    high-water mark survives exec), so processes are started from this small launcher."""
    source = Path(__file__).resolve().parent / "peak.c"
    built = Path(__file__).resolve().parents[2] / "target" / "bench-peak"
    compiler = shutil.which("cc") or shutil.which("gcc")
    if not compiler:
        return None
    if not built.exists() or built.stat().st_mtime < source.stat().st_mtime:
        if subprocess.run([compiler, "-O2", "-o", str(built), str(source)]).returncode != 0:
            return None
    return str(built)


PEAK = None


def whole_process(command, runs):
    """Median wall time (ms) of `runs` fresh processes, and the largest peak RSS (MiB)."""
    times, peak = [], 0
    for _ in range(runs):
        if PEAK:
            rss_kib, ns, code = (int(x) for x in subprocess.run(
                [PEAK, *command], capture_output=True, text=True, check=True).stdout.split())
            times.append(ns / 1e9)
            peak = max(peak, rss_kib)
        else:
            start = time.perf_counter()
            child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _, status, usage = os.wait4(child.pid, 0)
            times.append(time.perf_counter() - start)
            peak = max(peak, usage.ru_maxrss)
            code = os.waitstatus_to_exitcode(status)
        if code not in (0, 1):
            sys.exit(f"bench: {' '.join(command)} exited {code}")
    return statistics.median(times) * 1000, peak / 1024


def agent_start(binary, config, runs):
    """The node agent's start on a fresh copy of `config` (--once, no restart): median ms from
    exec to the first file it creates in the config's directory (the launcher's inotify
    watch), median ms of the whole run, and the largest peak RSS (MiB). Its lock and restart
    marker go to a tmpfs, as /run is on a node. (None, None, None) without the launcher."""
    if not PEAK:
        return None, None, None
    firsts, times, peak = [], [], 0
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as disk, tempfile.TemporaryDirectory(dir="/dev/shm") as run:
            etc = Path(disk) / "etc/containerd"
            etc.mkdir(parents=True)
            (etc / "config.toml").write_text(config.read_text())
            command = [
                binary, "node-agent", "--once", "--runtime", "containerd", "--restart-mode", "none",
                "--config", str(etc / "config.toml"), "--drop-in", str(etc / "conf.d/99-nvidia.toml"),
                "--root", f"{disk}/toolkit", "--pid-file", f"{run}/toolkit.pid", "--socket", f"{run}/none.sock",
            ]
            out = subprocess.run([PEAK, "-w", str(etc), *command], capture_output=True, text=True, check=True)
            rss_kib, ns, code, first_ns = (int(x) for x in out.stdout.split())
            if code != 0 or first_ns < 0:
                sys.exit(f"bench: the node agent exited {code} (first write: {first_ns}): {' '.join(command)}")
            firsts.append(first_ns / 1e6)
            times.append(ns / 1e6)
            peak = max(peak, rss_kib)
    return statistics.median(times), statistics.median(firsts), peak / 1024


def instructions(command):
    """Instructions one run of `command` executes (callgrind), or None without valgrind.
    Steady from run to run, unlike times on a shared machine: the before/after figure."""
    if not shutil.which("valgrind"):
        return None
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    for line in out.stderr.splitlines():
        if "refs:" in line:
            return int(line.split()[-1].replace(",", ""))
    return None


def criterion(root, group, name):
    """Criterion's median estimate (ms) of one benchmark, found by its full id."""
    wanted = f"{group}/{name}" if group else name
    for benchmark in Path(root).glob("**/new/benchmark.json"):
        info = json.loads(benchmark.read_text())
        if info.get("full_id") == wanted:
            estimates = json.loads((benchmark.parent / "estimates.json").read_text())
            return estimates["median"]["point_estimate"] / 1e6
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--criterion", required=True)
    parser.add_argument("--helm-python")
    parser.add_argument("--chart")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    rows = []
    global PEAK
    PEAK = launcher()
    if not PEAK:
        print("bench: no C compiler for scripts/lib/peak.c: peak RSS includes Python's own", file=sys.stderr)

    def row(what, ours, unit, goal, anchor=None, anchor_name=""):
        ratio = f"{anchor / ours:.1f}x" if anchor and ours else ""
        shown_anchor = f"{anchor:.2f} {unit} ({anchor_name})" if anchor else anchor_name
        rows.append((what, f"{ours:.2f} {unit}" if ours is not None else "not measured", goal, shown_anchor, ratio))

    helm = None
    if args.helm_python and args.chart and Path(args.chart).is_dir():
        out = subprocess.run([args.helm_python, "-c", HELM_RENDER, args.chart, "15"], capture_output=True, text=True)
        if out.returncode == 0:
            helm = json.loads(out.stdout)
        else:
            print(f"bench: the Helm v4 engine did not render: {out.stderr.strip()[-300:]}", file=sys.stderr)
    helm_ms = helm["median_ms"] if helm else None
    helm_name = f"Helm v4 engine, upstream chart, {helm['objects']} objects" if helm else "Helm v4 engine: not available"

    plan_ms = criterion(args.criterion, None, "compile the defaults to a Plan")
    text_ms = criterion(args.criterion, None, "compile the defaults to `helm template` text")
    seed_ms = criterion(args.criterion, None, "compile the seed's values to `helm template` text")
    row("compile the defaults to a Plan, in process", plan_ms, "ms", "<= 1 ms, 30x Helm", helm_ms, helm_name)
    row("defaults to `helm template` text, in process", text_ms, "ms", "", helm_ms, helm_name)
    row("the seed's values to `helm template` text, in process", seed_ms, "ms", "<= 1.5 ms", helm_ms, helm_name)

    binary = args.binary

    def counted(what, command):
        count = instructions(command)
        if count is not None:
            rows.append((what, f"{count / 1e6:.1f} M", "", "", ""))
    ms, mib = whole_process([binary, "template", *SEED], args.runs)
    row("gpuplan template (seed), whole process", ms, "ms", "<= 5 ms")
    rows.append(("  its peak RSS", f"{mib:.1f} MiB", "<= 10 MiB", "", ""))
    counted("  its instructions (callgrind)", [binary, "template", *SEED])

    config = Path(__file__).resolve().parents[2] / "golden/node/containerd-1.6-default/in/etc/containerd/config.toml"
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "config.toml"
        copy.write_text(config.read_text())
        node_diff = [binary, "node", "diff", "--config", str(copy), "--drop-in", "", *SEED]
        ms, mib = whole_process(node_diff, args.runs)
        row("gpuplan node diff (241-line containerd 1.6 default)", ms, "ms", "<= 2 ms", 4.0, "nvidia-ctk --dry-run, issue's figure")
        rows.append(("  its peak RSS", f"{mib:.1f} MiB", "<= 5 MiB", "14.4 MiB (nvidia-ctk, issue's figure)", ""))
        counted("  its instructions (callgrind)", node_diff)

    ms, first_ms, mib = agent_start(binary, config, args.runs)
    row("gpuplan node-agent --once: exec to its first write of the node's config", first_ms, "ms", "<= 2 ms")
    row("  the whole run (four files written, each synced)", ms, "ms", "")
    rows.append(("  its peak RSS", f"{mib:.1f} MiB" if mib else "not measured", "<= 5 MiB", "", ""))

    group = "containerd engine, 2,000-line config"
    patch = criterion(args.criterion, group, "patch (drop-in mode)")
    revert = criterion(args.criterion, group, "revert")
    both = patch + revert if patch is not None and revert is not None else None
    row("node engine, 2,000 lines: patch + revert, in process", both, "ms", "<= 0.5 ms")
    explain = criterion(args.criterion, "explain", "toolkit CONTAINERD_SOCKET on the defaults")
    row("explain of one field, in process", explain, "ms", "<= 30 ms")
    field = "spec.template.spec.containers[name=node-agent].env[name=CONTAINERD_SOCKET].value"
    explain_command = [binary, "explain", "daemonset/nvidia-container-toolkit-daemonset", field]
    ms, mib = whole_process(explain_command, max(args.runs // 3, 3))
    row("gpuplan explain of that field, whole process", ms, "ms", "")
    counted("  its instructions (callgrind)", explain_command)

    widths = [max(len(r[i]) for r in rows + [("figure", "gpuplan", "goal", "anchor", "ratio")]) for i in range(5)]
    header = ("figure", "gpuplan", "goal", "anchor", "anchor/gpuplan")
    for r in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())


if __name__ == "__main__":
    main()
