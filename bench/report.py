#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""bench/report.py RAW INFO JSON DATDIR: the raw results of one guest run
(bench/guest.sh) and the host's machine info -> the table (stdout), the
JSON, and one gnuplot data file per measured figure (DATDIR/figN.dat).

Every figure is listed: measured (its numbers, ratio, goal, met), failed
(what the guest said), or "not measured yet".  No number is made up: a
figure without its raw numbers has none.  Ratios are measured within one
run (both sides on the same guest at nearly the same time); no absolute
timing is judged anywhere."""
import json
import math
import os
import re
import sys

RAW, INFO, OUT, DAT = sys.argv[1:5]

TITLES = {
    1: "CHILD_SA rekey time qkd vs x25519 vs ecp256 (median, initiator log)",
    2: "rekey with the real agent (responder's key by ID) vs pre-injected",
    3: "packets lost across N rekeys at 1000 pps (ESP SA counters, both ways)",
    4: "one take vs one ETSI 014 enc_keys (HTTPS keep-alive, simulator)",
    5: "one take vs a bare genetlink round trip (CTRL_CMD_GETFAMILY)",
    6: "inject keys/s at batch 1, 16, 256",
    7: "kernel memory per buffered 32-byte key (Slab delta)",
    8: "scale: 100 links, 1000 CHILD_SAs, qkd vs x25519 rekeys/s",
}
GOALS = {1: "qkd/x25519 <= 1.10", 2: "<= 1.05", 3: "0 lost", 4: "<= 0.01",
         5: "<= 1.5", 6: "b256/b1 >= 50", 7: "<= 128 B/key", 8: "<= 1.10"}


def kv(name):
    """key value lines of a raw file -> dict; 'failed' lines -> d['failed']"""
    d = {}
    path = os.path.join(RAW, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        for line in f:
            k, _, v = line.strip().partition(" ")
            if k == "failed":
                d["failed"] = v
            elif k:
                d[k] = v
    return d


def num(d, k):
    try:
        return float(d[k])
    except (KeyError, TypeError, ValueError):
        return None


def pct(xs, p):
    """nearest-rank percentile"""
    s = sorted(xs)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def fig(n, **kw):
    f = {"figure": n, "title": TITLES[n], "goal": GOALS[n], "status": "measured"}
    f.update(kw)
    return f


def failed(n, why):
    return fig(n, status="failed", reason=why, values={}, ratio=None, met=None)


def samples(name):
    """'method ms' lines -> {method: [ms, ...]}"""
    by = {}
    path = os.path.join(RAW, name)
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                m, ms = line.split()
                by.setdefault(m, []).append(float(ms))
    return by


def stats(xs):
    return {"n": len(xs), "median_ms": median(xs), "p90_ms": pct(xs, 90),
            "min_ms": min(xs), "max_ms": max(xs)}


def cdf_dat(name, series):
    """one block per (label, samples): index label ms fraction"""
    with open(os.path.join(DAT, name), "w") as o:
        for i, (label, xs) in enumerate(series):
            o.write("# %s\n" % label)
            for j, x in enumerate(sorted(xs)):
                o.write("%d %s %.1f %.4f\n" % (i, label, x, (j + 1) / len(xs)))
            o.write("\n\n")


def fig1():
    d = kv("fig1.kv")
    by = samples("fig1.samples")
    if d is None or "failed" in d:
        return failed(1, (d or {}).get("failed", "no raw results"))
    if not all(by.get(m) for m in ("qkd", "x25519", "ecp256")):
        return failed(1, "a method without samples")
    v = {m: stats(xs) for m, xs in by.items()}
    for k in ("rekeys_failed", "qkd_keyed", "x25519_proposals", "ecp256_proposals", "fallbacks"):
        v[k] = int(num(d, k) or 0)
    r = v["qkd"]["median_ms"] / v["x25519"]["median_ms"]
    v["qkd_per_ecp256"] = v["qkd"]["median_ms"] / v["ecp256"]["median_ms"]
    v["p90_qkd_per_x25519"] = v["qkd"]["p90_ms"] / v["x25519"]["p90_ms"]
    cdf_dat("fig1.dat", [(m, by[m]) for m in ("qkd", "x25519", "ecp256")])
    text = "median qkd %.1f, x25519 %.1f, ecp256 %.1f ms; p90 %.1f/%.1f/%.1f ms (n=%d/%d/%d)" % (
        v["qkd"]["median_ms"], v["x25519"]["median_ms"], v["ecp256"]["median_ms"],
        v["qkd"]["p90_ms"], v["x25519"]["p90_ms"], v["ecp256"]["p90_ms"],
        v["qkd"]["n"], v["x25519"]["n"], v["ecp256"]["n"])
    return fig(1, values=v, ratio=r, ratio_text="qkd/x25519 %.2f (qkd/ecp256 %.2f)" % (
        r, v["qkd_per_ecp256"]), text=text, met=r <= 1.10)


def snap(name):
    """xfrm_watch/xfrm_snapshot lines -> {(src, spi): highest count}, in
    the order the SAs first appear"""
    m = {}
    path = os.path.join(RAW, name)
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                src, spi, n = line.split()
                spi = spi.split("(")[0]
                m[(src, spi)] = max(m.get((src, spi), 0), int(n))
    return m


def fig3_dat():
    """per SA with packets: its counter at the sender and at the receiver
    (block 0: a->b, block 1: b->a)"""
    a, b = snap("fig3-snap-a"), snap("fig3-snap-b")
    with open(os.path.join(DAT, "fig3.dat"), "w") as o:
        for src, snd, rcv in (("192.0.2.1", a, b), ("192.0.2.2", b, a)):
            o.write("# SAs from %s: index sender receiver lost\n" % src)
            i = 0
            for k in list(snd) + [k for k in rcv if k not in snd]:
                if k[0] != src or (snd.get(k, 0) == 0 and rcv.get(k, 0) == 0):
                    continue
                i += 1
                o.write("%d %d %d %d\n" % (i, snd.get(k, 0), rcv.get(k, 0),
                                            snd.get(k, 0) - rcv.get(k, 0)))
            o.write("\n\n")


def fig2():
    d = kv("fig2.kv")
    by, pre = samples("fig2.samples"), samples("fig1.samples").get("qkd")
    if d is None or "failed" in d or not by.get("qkd") or not by.get("x25519") or not pre:
        return failed(2, (d or {}).get("failed", "no samples (or no figure 1 to compare with)"))
    v = {"qkd_agent": stats(by["qkd"]), "x25519": stats(by["x25519"]),
         "qkd_preinjected_fig1": stats(pre)}
    for k in ("rekeys_failed", "qkd_keyed", "b_took_by_id", "agent_b_wanted",
              "agent_b_injected", "fallbacks"):
        v[k] = int(num(d, k) or 0)
    r = v["qkd_agent"]["median_ms"] / v["qkd_preinjected_fig1"]["median_ms"]
    f1 = samples("fig1.samples")
    v["normalized"] = (v["qkd_agent"]["median_ms"] / v["x25519"]["median_ms"]) / (
        median(f1["qkd"]) / median(f1["x25519"]))
    cdf_dat("fig2.dat", [("qkd_agent", by["qkd"]), ("qkd_preinjected", pre),
                         ("x25519", by["x25519"])])
    text = ("median qkd with agents %.1f ms vs pre-injected (fig 1) %.1f ms; x25519 beside it %.1f ms;"
            " p90 %.1f ms; n=%d; b took %d by ID, agent B fetched %d") % (
        v["qkd_agent"]["median_ms"], v["qkd_preinjected_fig1"]["median_ms"],
        v["x25519"]["median_ms"], v["qkd_agent"]["p90_ms"], v["qkd_agent"]["n"],
        v["b_took_by_id"], v["agent_b_injected"])
    return fig(2, values=v, ratio=r, ratio_text="agent/pre-injected %.2f (over x25519: %.2f)" % (
        r, v["normalized"]), text=text, met=r <= 1.05)


def drops():
    """counters of fig3-drops-after minus -before, the non-zero ones"""
    a, b = kv("fig3-drops-after") or {}, kv("fig3-drops-before") or {}
    out = {}
    for k in a:
        try:
            dlt = int(a[k]) - int(b.get(k, 0))
        except ValueError:
            continue
        if dlt:
            out[k] = dlt
    return out


def fig3():
    d = kv("fig3.kv")
    if d is None or "failed" in d or num(d, "sent") is None:
        return failed(3, (d or {}).get("failed", "no raw results"))
    v = {k: int(num(d, k) or 0) for k in ("rekeys", "rekeys_failed", "pps_asked", "sent",
                                           "send_errors", "received", "a_out", "b_in",
                                           "b_out", "a_in", "sas_with_packets_a",
                                           "sas_with_packets_b")}
    v["stream_s"] = num(d, "stream_s")
    v["drops"] = drops()
    v["pps_reached"] = v["sent"] / v["stream_s"] if v["stream_s"] else None
    v["lost_a_to_b"] = v["a_out"] - v["b_in"]
    v["lost_b_to_a"] = v["b_out"] - v["a_in"]
    v["lost_on_sas"] = v["lost_a_to_b"] + v["lost_b_to_a"]
    # accepted by sendto() but never counted on one of a's out SAs
    v["sent_not_on_sa"] = v["sent"] - v["a_out"]
    v["lost_end_to_end"] = v["sent"] - v["received"]
    on = v["a_out"] + v["b_out"]
    r = v["lost_on_sas"] / on if on else None
    fig3_dat()
    text = ("%d rekeys (%d failed), %d sent at ~%s pps: lost on the SAs a->b %d, b->a %d;"
            " sent but not on an SA %d; send errors %d; end to end %d") % (
        v["rekeys"], v["rekeys_failed"], v["sent"],
        "%.0f" % v["pps_reached"] if v["pps_reached"] else "?",
        v["lost_a_to_b"], v["lost_b_to_a"], v["sent_not_on_sa"], v["send_errors"],
        v["lost_end_to_end"])
    if os.path.exists(os.path.join(RAW, "fig3-drops-after")):
        text += "; drops elsewhere: %s" % (", ".join(
            "%s %d" % kv_ for kv_ in sorted(v["drops"].items())) or "none")
    met = (v["lost_on_sas"] == 0 and v["lost_end_to_end"] == 0 and v["send_errors"] == 0
           and v["sent_not_on_sa"] == 0 and v["rekeys_failed"] == 0)
    return fig(3, values=v, ratio=r, ratio_text="lost/ESP sent %s" % (
        "%.5f" % r if r is not None else "-"), text=text, met=met)


def fig4():
    d = kv("fig4.kv")
    if d is None or "failed" in d or num(d, "take_us_median") is None:
        return failed(4, (d or {}).get("failed", "no raw results"))
    v = {k: num(d, k) for k in d}
    r = v["take_us_median"] / v["enc_keys_us_median"]
    with open(os.path.join(DAT, "fig4.dat"), "w") as o:
        o.write('"take (netlink)" %.1f %.1f\n' % (v["take_us_median"], v["take_us_p90"]))
        o.write('"enc_keys (HTTPS)" %.1f %.1f\n' % (v["enc_keys_us_median"], v["enc_keys_us_p90"]))
    text = "median take %.1f us, enc_keys %.1f us (n=%d each)" % (
        v["take_us_median"], v["enc_keys_us_median"], v["take_n"])
    return fig(4, values=v, ratio=r, ratio_text="take/enc_keys %.4f" % r, text=text,
               met=r <= 0.01)


def qkd_bench():
    """qkd_bench's output -> (memory rows, batch rates, floor) or a reason"""
    path = os.path.join(RAW, "qkd_bench.out")
    if not os.path.exists(path):
        return None, "no raw results"
    mem, batch, floor, fail = [], {}, None, None
    row = re.compile(r"^\s*(\d+)\s+(-?\d+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(\S+)\s*$")
    with open(path) as f:
        for line in f:
            m = row.match(line)
            if m:
                mem.append({"keys": int(m.group(1)), "slab_kib": int(m.group(2)),
                            "slab_b_per_key": float(m.group(3)),
                            "sunreclaim_b_per_key": float(m.group(4)),
                            "vmalloc_b_per_key": float(m.group(5)),
                            "key_cache_b_per_key": None if m.group(6) == "-" else float(m.group(6))})
            m = re.match(r"^inject batch\s+(\d+):\s+(\d+) keys/s", line)
            if m:
                batch[int(m.group(1))] = float(m.group(2))
            m = re.match(r"^genetlink round trip .*: ([\d.]+) us; one take ([\d.]+) us", line)
            if m:
                floor = (float(m.group(1)), float(m.group(2)))
            if line.startswith("failed"):
                fail = line.strip()
    return (mem, batch, floor), fail


def figs567():
    res, fail = qkd_bench()
    if res is None:
        return [failed(n, fail) for n in (5, 6, 7)]
    mem, batch, floor = res
    out = []
    if floor:
        r = floor[1] / floor[0]
        with open(os.path.join(DAT, "fig5.dat"), "w") as o:
            o.write('"genetlink floor" %.1f\n"take" %.1f\n' % floor)
        out.append(fig(5, values={"genl_us": floor[0], "take_us": floor[1]}, ratio=r,
                       ratio_text="take/floor %.2f" % r,
                       text="take %.1f us, CTRL_CMD_GETFAMILY %.1f us" % (floor[1], floor[0]),
                       met=r <= 1.5))
    else:
        out.append(failed(5, fail or "no floor line"))
    if all(b in batch for b in (1, 16, 256)):
        r = batch[256] / batch[1]
        with open(os.path.join(DAT, "fig6.dat"), "w") as o:
            for b in (1, 16, 256):
                o.write('"%d" %.0f\n' % (b, batch[b]))
        out.append(fig(6, values={"keys_per_s": {str(b): batch[b] for b in (1, 16, 256)}},
                       ratio=r, ratio_text="b256/b1 %.1f (b16/b1 %.1f)" % (r, batch[16] / batch[1]),
                       text="%.0f / %.0f / %.0f keys/s" % (batch[1], batch[16], batch[256]),
                       met=r >= 50))
    else:
        out.append(failed(6, fail or "batch lines missing"))
    if mem:
        last = mem[-1]
        with open(os.path.join(DAT, "fig7.dat"), "w") as o:
            for m in mem:
                o.write("%d %.1f %.1f\n" % (m["keys"], m["slab_b_per_key"],
                                            m["key_cache_b_per_key"] or float("nan")))
        r = last["slab_b_per_key"] / 32
        out.append(fig(7, values={"rows": mem}, ratio=r,
                       ratio_text="%.1fx the 32 B of material" % r,
                       text=", ".join("%.0f B at %d" % (m["slab_b_per_key"], m["keys"]) for m in mem),
                       met=last["slab_b_per_key"] <= 128))
    else:
        out.append(failed(7, fail or "no memory rows"))
    return out


def table(figs):
    """a Markdown table: readable in a terminal, pasted as is into README.md"""
    lines = ["| fig | value | ratio | goal | met? |", "|---|---|---|---|---|"]
    for f in figs:
        if f["status"] == "measured":
            row = (f["text"], f["ratio_text"], "yes" if f["met"] else "no")
        elif f["status"] == "not measured yet":
            row = ("not measured yet", "-", "-")
        else:
            row = ("FAILED: " + f["reason"], "-", "-")
        lines.append("| %s | %s | %s | %s | %s |" % (f["figure"], row[0], row[1], f["goal"], row[2]))
    return "\n".join(lines)


def main():
    info = kv(INFO) or {}
    guest = kv("guest.kv") or {}
    figs = {1: fig1(), 2: fig2(), 3: fig3(), 4: fig4()}
    for f in figs567():
        figs[f["figure"]] = f
    for n in (8,):
        figs[n] = fig(n, status="not measured yet", values={}, ratio=None, met=None)
    figs = [figs[n] for n in sorted(figs)]
    doc = {"machine": info, "guest": guest, "figures": figs}
    with open(OUT, "w") as o:
        json.dump(doc, o, indent=1, sort_keys=True)
        o.write("\n")
    print(table(figs))


main()
