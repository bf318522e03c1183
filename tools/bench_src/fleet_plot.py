"""tools/fleet-sim's table (Markdown) and convergence curves (SVG, by hand,
so the tool needs nothing but Python)."""

from xml.sax.saxutils import escape

COLOURS = {"direct": "#d62728", "direct-jitter": "#1f77b4", "nginx": "#ff7f0e",
           "nginx-jitter": "#2ca02c"}


def _seconds(value):
    return "-" if value is None else "%.1f" % value


def markdown_table(results):
    rows = ["| nodes | scenario | req/s at service | peak req in 1 s at service "
            "| 304 share at service | bytes served by service | req/s at proxy "
            "| 304 share at proxy | 50 % | 99 % | 100 % | failed loads |",
            "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
            "| ---: |"]
    for r in results:
        failures = r.get("loader_failures_by_status") or {}
        rows.append("| %d | %s | %.1f | %d | %.1f %% | %d | %s | %s | %s s | %s s | %s s | %s |" % (
            r["nodes"], r["scenario"], r["service_requests_per_s"], r["service_peak_per_s"],
            100 * r["share_304"], r["service_bytes"],
            "%.1f" % r["proxy_requests_per_s"] if "proxy_requests_per_s" in r else "-",
            "%.1f %%" % (100 * r["proxy_share_304"]) if "proxy_share_304" in r else "-",
            _seconds(r["t50_s"]), _seconds(r["t99_s"]), _seconds(r["t100_s"]),
            "%d" % r["loader_failures"] + (" (%s)" % ", ".join(
                "%s× exit %s" % (count, status) for status, count in failures.items())
                if failures else "")))
    return "\n".join(rows) + "\n"


def convergence_svg(results, width=640, height=360):
    """Share of nodes holding the new version against seconds since the change."""
    left, right, top, bottom = 56, 150, 30, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    longest = max([r["window_s"] for r in results] + [1.0])
    span = max(1.0, max((t for r in results for t in r["curve"]), default=1.0) * 1.05)
    span = min(span, longest)

    def x(seconds):
        return left + plot_w * min(seconds, span) / span

    def y(share):
        return top + plot_h * (1 - share)

    nodes = results[0]["nodes"] if results else 0
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="12">' % (width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="18" font-size="14">%d nodes: share holding the new rules '
           'after the change</text>' % (left, nodes)]
    for step in range(0, 11, 2):
        share = step / 10
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>'
                   % (left, y(share), left + plot_w, y(share)))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%d %%</text>'
                   % (left - 6, y(share) + 4, step * 10))
    ticks = 6
    for step in range(ticks + 1):
        seconds = span * step / ticks
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>'
                   % (x(seconds), top, x(seconds), top + plot_h))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%.0f</text>'
                   % (x(seconds), top + plot_h + 16, seconds))
    out.append('<text x="%d" y="%d" text-anchor="middle">seconds since the rules changed</text>'
               % (left + plot_w / 2, height - 8))
    out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>'
               % (left, top, plot_w, plot_h))
    for index, r in enumerate(results):
        colour = COLOURS.get(r["scenario"], "#333")
        points = ["%.1f,%.1f" % (x(0), y(0))]
        for count, seconds in enumerate(r["curve"], start=1):
            points.append("%.1f,%.1f" % (x(seconds), y((count - 1) / r["nodes"])))
            points.append("%.1f,%.1f" % (x(seconds), y(count / r["nodes"])))
        points.append("%.1f,%.1f" % (x(span), y(len(r["curve"]) / r["nodes"])))
        out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>'
                   % (colour, " ".join(points)))
        legend_y = top + 14 + 18 * index
        out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>'
                   % (left + plot_w + 10, legend_y - 4, left + plot_w + 30, legend_y - 4, colour))
        out.append('<text x="%d" y="%d">%s</text>'
                   % (left + plot_w + 36, legend_y, escape(r["scenario"])))
    out.append("</svg>")
    return "\n".join(out) + "\n"
