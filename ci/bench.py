#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turns make bench's raw figures ("SOURCE RUN KEY VALUE" lines: SOURCE is an architecture or
"host") into ratios against the yardsticks of the same run, with min/median/max over the
runs, prints the table, writes the JSON, and compares with a previous run's JSON."""

import argparse
import json
import statistics
from collections import defaultdict

# (name, source kind, numerator key, denominator key or None, goal text, goal check)
RATIOS = [
    ("sync round trip / doorbell round trip", "vm", "kernel_rt_ns", "doorbell_rt_ns", "<= 1.5",
     lambda v: v <= 1.5),
    ("/dev/vchiq round trip / kernel round trip", "vm", "user_rt_ns", "kernel_rt_ns", "<= 1.3",
     lambda v: v <= 1.3),
    ("/dev/vchiq round trip, queue + await in one thread / kernel round trip", "vm",
     "user_direct_rt_ns", "kernel_rt_ns", "<= 1.3", lambda v: v <= 1.3),
    ("1 MiB bulk transmit / memcpy 1 MiB", "vm", "bulk_tx_1m_mbs", "memcpy_1m_mbs", ">= 0.8",
     lambda v: v >= 0.8),
    ("1 MiB bulk transmit, 4 in flight / memcpy 1 MiB", "vm", "bulk_tx_1m_q4_mbs",
     "memcpy_1m_mbs", "", None),
    ("/dev/vchiq bulk 4 KiB / memcpy", "vm", "user_bulk_4k_mbs", "memcpy_1m_mbs", "", None),
    ("/dev/vchiq bulk 64 KiB / memcpy", "vm", "user_bulk_64k_mbs", "memcpy_1m_mbs", "", None),
    ("/dev/vchiq bulk 1 MiB / memcpy", "vm", "user_bulk_1024k_mbs", "memcpy_1m_mbs", "", None),
    ("/dev/vchiq bulk 16 MiB / memcpy", "vm", "user_bulk_16384k_mbs", "memcpy_1m_mbs", "", None),
    ("vchiq-core.ko + vchiq-dev.ko / mainline vchiq.ko (.text+.data)", "vm",
     "size_ours", "size_mainline_vchiq", "<= 1.0", lambda v: v <= 1.0),
    ("engine: 4088 B payload bandwidth / host memcpy", "host", "msg_4088_mbs", "memcpy_4088_mbs",
     ">= 0.5", lambda v: v >= 0.5),
    ("vc-sm-cma cached buffer, CPU read / ordinary memory", "vm", "vcsm_cached_read_mbs",
     "vcsm_ordinary_read_mbs", ">= 0.8", lambda v: v >= 0.8),
    ("vc-sm-cma cached buffer, CPU write / ordinary memory", "vm", "vcsm_cached_write_mbs",
     "vcsm_ordinary_write_mbs", ">= 0.8", lambda v: v >= 0.8),
    ("vc-sm-cma uncached buffer, CPU read / ordinary memory", "vm", "vcsm_uncached_read_mbs",
     "vcsm_ordinary_read_mbs", "", None),
    ("vc-sm-cma uncached buffer, CPU write / ordinary memory", "vm", "vcsm_uncached_write_mbs",
     "vcsm_ordinary_write_mbs", "", None),
    ("vc-sm-cma cached buffer, CPU read without the syncs' time / ordinary", "vm",
     "vcsm_cached_pass_read_mbs", "vcsm_ordinary_read_mbs", "", None),
    ("vc-sm-cma cached buffer, CPU write without the syncs' time / ordinary", "vm",
     "vcsm_cached_pass_write_mbs", "vcsm_ordinary_write_mbs", "", None),
]
ABSOLUTE = [
    ("sync round trip (ns)", "vm", "kernel_rt_ns"),
    ("doorbell round trip (ns)", "vm", "doorbell_rt_ns"),
    ("/dev/vchiq round trip (ns)", "vm", "user_rt_ns"),
    ("/dev/vchiq round trip, queue + await in one thread (ns)", "vm", "user_direct_rt_ns"),
    ("bare ioctl, unknown request (ns)", "vm", "bare_ioctl_ns"),
    ("1 MiB bulk transmit (MB/s)", "vm", "bulk_tx_1m_mbs"),
    ("1 MiB bulk transmit, 4 in flight (MB/s)", "vm", "bulk_tx_1m_q4_mbs"),
    ("memcpy 1 MiB (MB/s)", "vm", "memcpy_1m_mbs"),
    ("engine messages/s, 0 B", "host", "msg_0_rate"),
    ("engine messages/s, 64 B (goal >= 10M)", "host", "msg_64_rate"),
    ("engine messages/s, 1024 B", "host", "msg_1024_rate"),
    ("engine messages/s, 4088 B", "host", "msg_4088_rate"),
    ("audio: position error vs the VideoCore, mean (us)", "vm",
     "audio_pos_err_mean_us"),
    ("audio: position error, max (us)", "vm", "audio_pos_err_max_us"),
    ("audio: COMPLETE to period_elapsed, mean (us)", "vm", "audio_report_mean_us"),
    ("audio: COMPLETE to period_elapsed, max (us)", "vm", "audio_report_max_us"),
    ("audio: ARM CPU per second of 48 kHz stereo (us)", "vm", "audio_cpu_us_per_s"),
    ("audio: xruns in a long stream beside --stress (goal 0)", "vm", "audio_xruns"),
    ("vc-sm-cma: ordinary memory CPU read (MB/s)", "vm", "vcsm_ordinary_read_mbs"),
    ("vc-sm-cma: ALLOC + IMPORT_DMABUF + close (us)", "vm", "vcsm_alloc_import_us"),
    ("vc-sm-cma: a sync pair (start + end) of 1 MiB cached (us)", "vm", "vcsm_cached_sync_us"),
    ("vc-sm-cma: a sync pair of 1 MiB uncached (us)", "vm", "vcsm_uncached_sync_us"),
]


def load(raw):
    data = defaultdict(lambda: defaultdict(dict))  # source -> run -> key -> value
    with open(raw) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 4:
                continue
            src, run, key, val = parts
            try:
                data[src][int(run)][key] = float(val)
            except ValueError:
                pass
    for runs in data.values():
        # The module sizes are measured once; add ours up.
        one = runs.get(1, {})
        if "size_vchiq_core" in one:
            one["size_ours"] = one["size_vchiq_core"] + one.get("size_vchiq_dev", 0)
    return data


def stats(values):
    if not values:
        return None
    return {"min": min(values), "median": statistics.median(values), "max": max(values),
            "n": len(values)}


def series(runs, num, den):
    out = []
    for r in sorted(runs):
        v = runs[r]
        if num in v and (den is None or (den in v and v[den] > 0)):
            out.append(v[num] / v[den] if den else v[num])
    # Sizes and other once-measured figures: divide run 1's numerator by run 1's denominator.
    return out


def fmt(x):
    if x is None:
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.3f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--previous")
    ap.add_argument("--commit", default="")
    ap.add_argument("--qemu", default="")
    ap.add_argument("--kernel", default="")
    a = ap.parse_args()
    data = load(a.raw)
    result = {"commit": a.commit, "qemu": a.qemu, "kernel": a.kernel, "figures": {}}
    rows = []
    for src in sorted(data):
        # "host": the engine's bench as it comes; "host-1cpu": the same with both threads on one
        # CPU (ci/bench).
        kind = "host" if src.startswith("host") else "vm"
        for name, k, num, den, goal, check in RATIOS:
            if k != kind:
                continue
            s = stats(series(data[src], num, den))
            if s is None:
                continue
            verdict = "" if check is None else ("met" if check(s["median"]) else "NOT MET")
            rows.append((src, name, s, goal, verdict))
            result["figures"][f"{src}: {name}"] = dict(s, goal=goal, verdict=verdict)
        for name, k, key in ABSOLUTE:
            if k != kind:
                continue
            s = stats(series(data[src], key, None))
            if s is None:
                continue
            rows.append((src, name, s, "", ""))
            result["figures"][f"{src}: {name}"] = dict(s, goal="", verdict="")
    prev = {}
    if a.previous:
        try:
            with open(a.previous) as f:
                prev = json.load(f).get("figures", {})
        except (OSError, ValueError):
            prev = {}
    print(f"make bench: commit {a.commit}, kernel {a.kernel}, {a.qemu}")
    hdr = f"{'where':<9} {'figure':<66} {'min':>10} {'median':>10} {'max':>10} {'n':>3} {'goal':>7} {'':7} {'previous':>10}"
    print(hdr)
    print("-" * len(hdr))
    for src, name, s, goal, verdict in rows:
        p = prev.get(f"{src}: {name}", {}).get("median")
        print(f"{src:<9} {name:<66} {fmt(s['min']):>10} {fmt(s['median']):>10} {fmt(s['max']):>10} "
              f"{s['n']:>3} {goal:>7} {verdict:7} {fmt(p):>10}")
    with open(a.json, "w") as f:
        json.dump(result, f, indent=1)
    print(f"\nJSON: {a.json}")


if __name__ == "__main__":
    main()
