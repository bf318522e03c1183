"""Turning tools/bench's raw figures into the table and the restart CDF plot.

Every figure of a repetition is one number; the table shows the median over
the repetitions of each, and ratio = dynsup / baseline of those medians
(for a rate, dynsup's rate over the baseline's: higher is better there).
The SVG is written by hand so that the bench needs nothing but Python.
"""

import math
import statistics


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def percentile(samples, fraction):
    """Nearest-rank percentile of a list of numbers."""
    ordered = sorted(samples)
    if not ordered:
        return None
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def _format(value, unit):
    if value is None:
        return "-"
    if unit == "count":
        return "%d" % value
    if abs(value) >= 1000:
        return "%.0f" % value
    if abs(value) >= 100:
        return "%.1f" % value
    if abs(value) >= 10:
        return "%.2f" % value
    return "%.3f" % value


# (key, label, unit, target text, check(dynsup, baseline, ratio) -> bool or None)
ROWS = [
    ("start_rate", "start throughput (starts/s)", "", ">= 0.8x baseline",
     lambda d, b, r: r is not None and r >= 0.8),
    ("start_p50_ms", "start latency p50 (ms)", "", "<= 2x baseline",
     lambda d, b, r: r is not None and r <= 2.0),
    ("start_p99_ms", "start latency p99 (ms)", "", "-", None),
    ("restart_p50_ms", "restart latency p50 (ms)", "", "<= 1.5x baseline",
     lambda d, b, r: r is not None and r <= 1.5),
    ("restart_p99_ms", "restart latency p99 (ms)", "", "<= 2x baseline",
     lambda d, b, r: r is not None and r <= 2.0),
    ("live_started", "live workers started", "count", "all succeed",
     lambda d, b, r: d is not None and b is not None and d == b),
    ("live_start_s", "time to start them all (s)", "", "-", None),
    ("host_bytes_per_worker", "host RSS growth per worker, issue 11 fields (bytes)", "", "<= 512",
     lambda d, b, r: d is not None and d <= 512),
    ("spawner_rss_mb", "spawners' RSS with them live (MiB)", "", "-", None),
    ("which_children_ms", "which_children at N live (ms)", "", "-", None),
    ("count_children_full_us",
     "count_children, N children vs 0, same host (us)", "", "O(1): <= 2x",
     lambda d, b, r: r is not None and r <= 2.0),
    ("count_children_us", "count_children at N live vs a fresh host (us)", "", "-", None),
    ("count_children_cpu_us", "host CPU per count_children, N live vs fresh (us)", "", "-", None),
    ("restart_listing_p99_ms/restart_p99_ms",
     "restart p99 while a client lists every live child in a loop (ms)", "",
     "<= 5x baseline restart p99", lambda d, b, r: r is not None and r <= 5.0),
    ("restart_listing_p50_ms/restart_p50_ms",
     "restart p50 while a client lists every live child (ms)", "", "-", None),
    # Where that p99 comes from: the same restarts with the client asking
    # about nothing, and the floor among as many live processes.
    ("restart_listing_p99_ms/restart_quiet_p99_ms",
     "restart p99 while listing vs the same host, client asking nothing (ms)", "", "-", None),
    ("restart_quiet_p99_ms/restart_live_p99_ms",
     "restart p99 at N live, no listing, vs the floor among N live (ms)", "", "-", None),
    ("reload_cpu_ms", "reload, N live, 1000 specs: host CPU (ms)", "", "<= 50 ms",
     lambda d, b, r: d is not None and d <= 50),
    ("reload_ms", "reload round trip (ms)", "", "-", None),
    ("reload_untouched", "which_children entries untouched by 5 reloads", "count", "all",
     lambda d, b, r: d is not None and d == b),
    ("fresh_start_ms/normal_start_ms", "first start of a plugin added live vs a normal start (ms)",
     "", "<= 2x", lambda d, b, r: r is not None and r <= 2.0),
    ("check_40k_ms", "check of 40,000 child specs (ms)", "", "<= 1000",
     lambda d, b, r: d is not None and d <= 1000),
    ("check_40k_cpu_ms", "check of 40,000 child specs, CPU (ms)", "", "-", None),
    ("check_us_per_spec", "check per child spec, 40,000 in 40 files vs 10,000 in 1 (us)", "",
     "linear: <= 1.5x", lambda d, b, r: r is not None and r <= 1.5),
    ("client_40k_ms", "client command start, 40,000 specs (ms)", "", "<= 10",
     lambda d, b, r: d is not None and d <= 10),
    ("stop_ms", "stop with N live (ms)", "", "<= 1.25x baseline",
     lambda d, b, r: r is not None and r <= 1.25),
    ("stop_small_ms", "stop with S live, median of 3 pairs each repetition (ms)", "",
     "<= 1.25x baseline", lambda d, b, r: r is not None and r <= 1.25),
    ("idle_host_wakeups", "idle: host wake-ups/s (100 workers)", "", "0",
     lambda d, b, r: d is not None and d == 0),
    ("idle_spawner_wakeups", "idle: spawners' wake-ups/s", "", "0",
     lambda d, b, r: d is not None and d == 0),
    ("auth_ms", "auth_loader 1 MB fetch+save (ms)", "", "<= 1.5x curl -o",
     lambda d, b, r: r is not None and r <= 1.5),
    # Explanation, not targets: the baseline loop run from a process that
    # dlopened both plugins (libcurl and its TLS), as one spawner for all
    # plugins would be.
    ("start_rate/start_rate_loaded", "start throughput vs baseline holding the plugins", "",
     "(info)", None),
    ("restart_p50_ms/restart_p50_ms_loaded", "restart p50 vs baseline holding the plugins", "",
     "(info)", None),
]


def build_table(dynsup_reps, baseline_reps, live_workers, stop_small=2000, stop_pairs=3):
    """Returns (rows, text): rows as dicts for results.json, text for the terminal."""
    rows = []
    for key, label, unit, target, check in ROWS:
        dynsup_key, _, baseline_key = key.partition("/")
        dynsup = median(rep.get(dynsup_key) for rep in dynsup_reps)
        baseline = median(rep.get(baseline_key or dynsup_key) for rep in baseline_reps)
        ratio = dynsup / baseline if dynsup is not None and baseline not in (None, 0) else None
        met = check(dynsup, baseline, ratio) if check else None
        figure = label.replace(" N ", " %d " % live_workers).replace(" S ", " %d " % stop_small)
        figure = figure.replace("median of 3 pairs", "median of %d pair%s" %
                                (stop_pairs, "s" if stop_pairs != 1 else ""))
        rows.append({"figure": figure, "key": key,
                     "unit": unit, "dynsup": dynsup, "baseline": baseline, "ratio": ratio,
                     "target": target, "met": met})
    header = ("figure", "dynsup", "baseline", "ratio", "target", "met")
    lines = [[r["figure"], _format(r["dynsup"], r["unit"]), _format(r["baseline"], r["unit"]),
              "-" if r["ratio"] is None else "%.2fx" % r["ratio"], r["target"],
              "-" if r["met"] is None else ("yes" if r["met"] else "NO")] for r in rows]
    widths = [max(len(str(row[i])) for row in lines + [list(header)]) for i in range(len(header))]
    def render(cells):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    text = [render(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    text += [render(cells) for cells in lines]
    return rows, "\n".join(text)


def write_cdf_svg(path, series, title):
    """series: list of (label, colour, samples in ms). Log-scale x axis."""
    width, height = 760, 460
    left, right, top, bottom = 70, 30, 40, 60
    plot_w, plot_h = width - left - right, height - top - bottom
    every = [s for _, _, samples in series for s in samples if s > 0]
    if not every:
        return
    low = 10 ** math.floor(math.log10(min(every)))
    high = 10 ** math.ceil(math.log10(max(every)))
    span = math.log10(high) - math.log10(low)

    def x_of(ms):
        return left + (math.log10(max(ms, low)) - math.log10(low)) / span * plot_w

    def y_of(fraction):
        return top + (1 - fraction) * plot_h

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="12">' % (width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="22" font-size="15">%s</text>' % (left, title)]
    decade = low
    while decade <= high * 1.0001:
        for step in range(1, 10):
            value = decade * step
            if value > high * 1.0001:
                break
            x = x_of(value)
            major = step == 1
            out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>'
                       % (x, top, x, top + plot_h, "#bbb" if major else "#eee"))
            if major:
                out.append('<text x="%.1f" y="%d" text-anchor="middle">%g</text>'
                           % (x, top + plot_h + 18, value))
        decade *= 10
    for tick in range(0, 11):
        fraction = tick / 10
        y = y_of(fraction)
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>'
                   % (left, y, left + plot_w, y))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%.1f</text>' % (left - 6, y + 4, fraction))
    out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="black"/>'
               % (left, top, plot_w, plot_h))
    out.append('<text x="%d" y="%d" text-anchor="middle">restart latency (ms, log scale): '
               'kill -9 to the replacement entering run</text>' % (left + plot_w / 2, height - 15))
    out.append('<text transform="translate(18,%d) rotate(-90)" text-anchor="middle">'
               'fraction of restarts</text>' % (top + plot_h / 2))
    for index, (label, colour, samples) in enumerate(series):
        ordered = sorted(samples)
        count = len(ordered)
        if count == 0:
            continue
        step = max(1, count // 2000)  # keep the file small
        points = ["%.1f,%.1f" % (x_of(ordered[0]), y_of(0))]
        for i in range(0, count, step):
            points.append("%.1f,%.1f" % (x_of(ordered[i]), y_of((i + 1) / count)))
        points.append("%.1f,%.1f" % (x_of(ordered[-1]), y_of(1)))
        out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>'
                   % (colour, " ".join(points)))
        legend_y = top + 20 + 18 * index
        out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>'
                   % (left + 12, legend_y, left + 36, legend_y, colour))
        out.append('<text x="%d" y="%d">%s (n=%d, p50 %.3f ms, p99 %.3f ms)</text>'
                   % (left + 42, legend_y + 4, label, count, percentile(ordered, 0.5),
                      percentile(ordered, 0.99)))
    out.append("</svg>")
    with open(path, "w") as svg:
        svg.write("\n".join(out) + "\n")


# ---------------------------------------------------------------- scaling (issue 13 item 6)

# (key, label, unit, per child?, has a baseline?)
SCALE_FIGURES = [
    ("start_all_ms", "start-all", "us per child", True, True),
    ("stop_all_ms", "stop-all", "us per child", True, True),
    ("which_children_ms", "which_children", "us per child", True, False),
    ("count_children_us", "count_children", "us (round trip)", False, False),
    ("reload_ms", "reload (1000 specs, 1 changed)", "ms (round trip)", False, False),
    ("host_bytes_per_child", "host memory", "bytes per child", False, False),
]


def _scale_value(figures, key, live, per_child):
    value = figures.get(key)
    if value is None:
        return None
    return value * 1000.0 / live if per_child else value  # ms -> us per child


def build_scale_table(runs, sizes):
    """Medians per size of every figure; returns (rows, text)."""
    rows = []
    for live in sizes:
        at = [r for r in runs if r["live"] == live]
        row = {"live": live}
        for side in ("dynsup", "baseline"):
            for key, _, _, _, _ in SCALE_FIGURES + [("reload_cpu_ms", "", "", False, False)]:
                row["%s_%s" % (side, key)] = median(r[side].get(key) for r in at)
        rows.append(row)
    header = ("live", "start-all ms (dynsup / fork)", "ratio", "stop-all ms (dynsup / floor)",
              "ratio", "which_children ms", "count_children us", "reload ms (host CPU)",
              "host B/child")

    def cell(row, key, per=None):
        value = row.get(key)
        if value is None:
            return "-"
        text = _format(value, "")
        if per:
            text += " (%s us/child)" % _format(value * 1000.0 / per, "")
        return text

    def ratio(row, key):
        d, b = row.get("dynsup_" + key), row.get("baseline_" + key)
        return "-" if d is None or not b else "%.2fx" % (d / b)

    lines = []
    for row in rows:
        n = row["live"]
        lines.append([
            "%d" % n,
            "%s / %s" % (cell(row, "dynsup_start_all_ms", n), cell(row, "baseline_start_all_ms")),
            ratio(row, "start_all_ms"),
            "%s / %s" % (cell(row, "dynsup_stop_all_ms", n), cell(row, "baseline_stop_all_ms")),
            ratio(row, "stop_all_ms"),
            cell(row, "dynsup_which_children_ms", n),
            cell(row, "dynsup_count_children_us"),
            "%s (%s)" % (cell(row, "dynsup_reload_ms"), cell(row, "dynsup_reload_cpu_ms")),
            cell(row, "dynsup_host_bytes_per_child"),
        ])
    widths = [max(len(str(line[i])) for line in lines + [list(header)]) for i in range(len(header))]

    def render(cells):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    text = [render(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    text += [render(line) for line in lines]
    return rows, "\n".join(text)


def write_scale_svg(path, runs, sizes, title):
    """One small panel per figure: the figure (per child where it is a
    whole-population operation) against the number of live children, log
    x axis; every repetition a dot, the medians a line; the fork floor in
    blue where there is one. A flat line is a cost per child that does not
    grow with the population."""
    columns, panel_w, panel_h = 3, 300, 230
    left, top, gap_x, gap_y = 60, 50, 40, 70
    plot_w, plot_h = panel_w - left, panel_h - 60
    rows_count = (len(SCALE_FIGURES) + columns - 1) // columns
    width = columns * (panel_w + gap_x) + 20
    height = top + rows_count * (panel_h + gap_y)
    low, high = math.log10(min(sizes)), math.log10(max(sizes))
    span = (high - low) or 1.0
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="11">' % (width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="20" y="24" font-size="15">%s</text>' % title,
           '<text x="20" y="40" fill="#555">red: dynsup; blue: baseline.c (fork, ack, '
           'SIGTERM and reap); dots: every repetition; lines: medians</text>']
    for index, (key, label, unit, per_child, has_floor) in enumerate(SCALE_FIGURES):
        ox = 20 + (index % columns) * (panel_w + gap_x)
        oy = top + 10 + (index // columns) * (panel_h + gap_y)
        sides = [("dynsup", "#c0392b")] + ([("baseline", "#2c7fb8")] if has_floor else [])
        points = {side: [(r["live"], _scale_value(r[side], key, r["live"], per_child))
                         for r in runs] for side, _ in sides}
        values = [v for pts in points.values() for _, v in pts if v is not None]
        if key == "host_bytes_per_child":
            values.append(512)
        top_value = max(values) * 1.15 if values else 1.0

        def x_of(n):
            return ox + left + (math.log10(n) - low) / span * plot_w

        def y_of(v):
            return oy + plot_h - v / top_value * plot_h
        out.append('<text x="%d" y="%d" font-size="13">%s</text>' % (ox + left, oy - 8, label))
        out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="black"/>'
                   % (ox + left, oy, plot_w, plot_h))
        for tick in range(5):
            v = top_value * tick / 4
            y = y_of(v)
            out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>'
                       % (ox + left, y, ox + left + plot_w, y))
            out.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>'
                       % (ox + left - 4, y + 4, _format(v, "")))
        for n in sizes:
            x = x_of(n)
            out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#eee"/>'
                       % (x, oy, x, oy + plot_h))
            out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>'
                       % (x, oy + plot_h + 14, "%dk" % (n // 1000) if n >= 1000 else n))
        out.append('<text x="%d" y="%d" text-anchor="middle" fill="#555">live children; %s</text>'
                   % (ox + left + plot_w / 2, oy + plot_h + 30, unit))
        if key == "host_bytes_per_child":
            y = y_of(512)
            out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#888" '
                       'stroke-dasharray="4,3"/>' % (ox + left, y, ox + left + plot_w, y))
            out.append('<text x="%d" y="%.1f" fill="#888">target 512</text>'
                       % (ox + left + 4, y - 4))
        for side, colour in sides:
            medians = []
            for n in sizes:
                at = [v for m, v in points[side] if m == n and v is not None]
                if at:
                    medians.append((n, median(at)))
            for n, v in points[side]:
                if v is not None:
                    out.append('<circle cx="%.1f" cy="%.1f" r="2.2" fill="%s" fill-opacity="0.5"/>'
                               % (x_of(n), y_of(v), colour))
            if medians:
                out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>'
                           % (colour, " ".join("%.1f,%.1f" % (x_of(n), y_of(v))
                                               for n, v in medians)))
    out.append("</svg>")
    with open(path, "w") as svg:
        svg.write("\n".join(out) + "\n")
