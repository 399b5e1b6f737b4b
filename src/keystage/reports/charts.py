"""Charts drawn on the server (matplotlib, Agg): grouped bar charts of percentages, as SVG with
an accessible title and description, or as PNG. Pages show them as images beside a table of the
same figures, so nothing depends on JavaScript or on reading the chart. A series of an area
is drawn in its comparator's colour (`palette`), the same on every chart; nothing is clipped
(the figure is saved to the bounds of everything drawn, its legend too).

Each chart also has a `narrow` drawing for a phone's width (the pages offer it below 641 px,
GOV.UK's tablet breakpoint): drawn at about the size it is shown, so its words stay readable
rather than shrinking with the image; a bar chart of groups lies on its side there, one row of
bars per group with the group's name beside it."""

from __future__ import annotations

import io
import math
import re
import textwrap
from html import escape

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import transforms  # noqa: E402

from keystage.reports import palette  # noqa: E402

matplotlib.rcParams.update({
    "svg.fonttype": "none",  # text stays text: smaller, searchable, read by screen readers
    "svg.hashsalt": "keystage",  # the same figures give the same file
    "font.family": "sans-serif",
    "font.size": 10,
})  # fmt: skip

# Series that are not areas (or that do not say their level), in order.
COLOURS = palette.OTHERS
FORMATS = {"svg": "image/svg+xml", "png": "image/png"}


def grouped_bars(
    title: str,
    categories: list[str],
    series: list[tuple],
    *,
    fmt: str = "svg",
    ylabel: str = "Percentage of eligible pupils",
    narrow: bool = False,
) -> bytes:
    """A grouped bar chart: one group of bars per category, one bar per series. Values are
    percentages; None (no figure) and "c" (suppressed) draw no bar, marked "–" and "c". A
    series is (name, values) or (name, values, level): an area's level gives its colour."""
    if narrow:
        return _side_bars(title, categories, series, fmt=fmt, xlabel=ylabel)
    width = max(5.5, 1.1 + len(categories) * (0.35 + 0.28 * len(series)))
    fig, ax = plt.subplots(figsize=(min(width, 12), 3.6), dpi=100)
    try:
        n = max(len(series), 1)
        bar = 0.8 / n
        for i, (name, values, colour) in enumerate(_coloured(series)):
            xs = [c + (i - (n - 1) / 2) * bar for c in range(len(categories))]
            heights = [v if isinstance(v, int | float) else 0 for v in values]
            bars = ax.bar(xs, heights, bar * 0.95, label=name, color=colour)
            for rect, v in zip(bars, values, strict=True):
                text = _bar_text(v)
                ax.annotate(text, (rect.get_x() + rect.get_width() / 2, rect.get_height()),
                            ha="center", va="bottom", fontsize=7, xytext=(0, 1),
                            textcoords="offset points")  # fmt: skip
        # A long group name ("Autumn-born (September to December)") wraps within its share of
        # the width rather than running into its neighbours'; the legend goes below the lines.
        room = (min(width, 12) - 1.1) / max(len(categories), 1)
        names = ["\n".join(textwrap.wrap(c, max(8, int(room / 0.07)))) or c for c in categories]
        lines = max((name.count("\n") + 1 for name in names), default=1)
        ax.set_xticks(range(len(categories)), names, fontsize=8)
        ax.set_ylim(0, 105)
        ax.set_ylabel(ylabel)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.06 - 0.06 * lines),
                  ncol=n, frameon=False)  # fmt: skip
        ax.set_title("\n".join(textwrap.wrap(title, 60)), fontsize=10)
    except BaseException:
        plt.close(fig)
        raise
    return _finish(fig, fmt, title, _describe(categories, series))


def _coloured(series) -> list[tuple[str, list, str]]:
    """(name, values, colour) of each series: an area's comparator colour when the series names
    its level, else the palette's others in order."""
    out = []
    for i, found in enumerate(series):
        name, values, *level = found
        out.append((name, list(values), palette.colour(level[0] if level else None, i)))
    return out


def _bar_text(v) -> str:
    """What a bar is labelled with: its value, "c" when suppressed, a dash when there is none."""
    return "–" if v is None else ("c" if isinstance(v, str) else f"{v:g}")


def _side_bars(title, categories, series, *, fmt: str, xlabel: str) -> bytes:
    """`grouped_bars` for a narrow screen: the groups down the side, their bars across."""
    n = max(len(series), 1)
    names = ["\n".join(textwrap.wrap(c, 18)) or c for c in categories]
    rows = sum(max(1, name.count("\n") + 1) * 0.16 + 0.12 * n for name in names)
    fig, ax = plt.subplots(figsize=(3.2, 1.5 + rows), dpi=100)
    try:
        bar = 0.8 / n
        for i, (name, values, colour) in enumerate(_coloured(series)):
            ys = [c + (i - (n - 1) / 2) * bar for c in range(len(categories))]
            widths = [v if isinstance(v, int | float) else 0 for v in values]
            bars = ax.barh(ys, widths, bar * 0.95, label=name, color=colour)
            for rect, v in zip(bars, values, strict=True):
                text = _bar_text(v)
                ax.annotate(text, (rect.get_width(), rect.get_y() + rect.get_height() / 2),
                            ha="left", va="center", fontsize=7, xytext=(2, 0),
                            textcoords="offset points")  # fmt: skip
        ax.set_yticks(range(len(categories)), names, fontsize=8)
        ax.invert_yaxis()  # the first group at the top, as in the table
        ax.set_xlim(0, 110)
        ax.set_xticks([0, 25, 50, 75, 100])
        ax.tick_params(axis="x", labelsize=8)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        # Below the axis and its label, whatever the chart's height: an offset in points.
        below = transforms.offset_copy(ax.transAxes, fig=fig, y=-36, units="points")
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, 0), bbox_transform=below,
                  ncol=1, frameon=False)  # fmt: skip
        ax.set_title("\n".join(textwrap.wrap(title, 34)), fontsize=9)
    except BaseException:
        plt.close(fig)
        raise
    return _finish(fig, fmt, title, _describe(categories, series))


def line_chart(title: str, years: list, series: list[tuple], *, fmt="svg",
               narrow: bool = False, ylabel: str = "Percentage of eligible pupils") -> bytes:  # fmt: skip
    """Percentages over a time axis in years, one line per series ((name, values), (name,
    values, level) or (name, values, level, "dashed"): Keystage's own figures, drawn dashed
    with open points beside the published lines), values in the order of `years`. The axis is the years themselves, so 2019
    to 2022 is three years wide; a year with no figure is a gap in its line, and years with no
    figure in any series are shaded as such."""
    held = sorted({int(y) for y in years})
    span = list(range(held[0], held[-1] + 1)) if held else []
    fig, ax = plt.subplots(figsize=(3.2, 3.4) if narrow else (6.5, 3.4), dpi=100)
    try:
        every = []
        for (name, values, colour), found in zip(_coloured(series), series, strict=True):
            by_year = {int(y): v for y, v in zip(years, values, strict=True)}
            ys = [by_year.get(y) for y in span]
            ys = [v if isinstance(v, int | float) else float("nan") for v in ys]
            every.append(ys)
            dashed = len(found) > 3 and found[3] == "dashed"  # Keystage's own, not published
            ax.plot(span, ys, marker="o", markersize=4, label=name, color=colour, linewidth=2,
                    linestyle="--" if dashed else "-",
                    markerfacecolor="white" if dashed else colour)  # fmt: skip
        empty = [y for n, y in enumerate(span) if all(math.isnan(ys[n]) for ys in every)]
        for run in _runs(empty):
            ax.axvspan(run[0] - 0.5, run[-1] + 0.5, color=palette.NO_DATA, zorder=0)
            ax.text((run[0] + run[-1]) / 2, 4, "No figures", ha="center", va="bottom",
                    fontsize=7, color=palette.THRESHOLD, rotation=90 if narrow else 0)  # fmt: skip
        ax.set_ylim(0, 100)
        if span:
            ax.set_xlim(span[0] - 0.5, span[-1] + 0.5)
        step = 1 if len(span) <= (5 if narrow else 8) else 2  # labels that do not touch
        ax.set_xticks(span[::step], [str(y) for y in span[::step]])
        ax.set_ylabel(ylabel, fontsize=8 if narrow else None)
        if narrow:
            ax.tick_params(axis="x", labelsize=8, labelrotation=90)
            ax.tick_params(axis="y", labelsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        # Below the years (on their side when narrow), whatever the chart's height.
        below = transforms.offset_copy(ax.transAxes, fig=fig, y=-34 if narrow else -20,
                                       units="points")  # fmt: skip
        ax.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, 0),
                  bbox_transform=below, ncol=1 if narrow else min(len(series), 2))  # fmt: skip
        ax.set_title(
            "\n".join(textwrap.wrap(title, 34 if narrow else 70)), fontsize=9 if narrow else 10
        )
    except BaseException:
        plt.close(fig)
        raise
    return _finish(fig, fmt, title, _describe([str(y) for y in years], series))


def _runs(years: list[int]) -> list[list[int]]:
    """Consecutive years together: [2020, 2021, 2024] -> [[2020, 2021], [2024]]."""
    out: list[list[int]] = []
    for y in years:
        if out and out[-1][-1] == y - 1:
            out[-1].append(y)
        else:
            out.append([y])
    return out


def distribution(
    title: str,
    counts: dict[int, int],
    threshold: int | None,
    *,
    unit: str,
    fmt="svg",
    narrow: bool = False,
) -> bytes:
    """Pupils at each point of a scale (`unit`, e.g. the collection's word for it), one bar per
    point, with a line at the threshold when it is given (at or above it meets the standard)."""
    xs = sorted(counts)
    fig, ax = plt.subplots(figsize=(3.2, 2.8) if narrow else (7.5, 3.4), dpi=100)
    try:
        ax.bar(xs, [counts[x] for x in xs], 0.8, color=palette.NEUTRAL, label="Pupils")
        # Headroom above the tallest bar, so the legend is never drawn over a bar.
        ax.set_ylim(0, max([*counts.values(), 1]) * 1.3)
        if threshold is not None:
            ax.axvline(threshold - 0.5, color=palette.THRESHOLD, linestyle="--",
                       label=f"Threshold: {threshold}")  # fmt: skip
            ax.legend(fontsize=8, frameon=False, loc="upper left", ncol=2)
        ax.set_xlabel(unit[:1].upper() + unit[1:])
        ax.set_ylabel("Pupils")
        ax.set_xticks([x for x in xs if x % (10 if narrow else 5) == 0])
        ax.yaxis.get_major_locator().set_params(integer=True)
        if narrow:
            ax.tick_params(labelsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        ax.set_title("\n".join(textwrap.wrap(title, 34 if narrow else 70)),
                     fontsize=9 if narrow else 10)  # fmt: skip
    except BaseException:
        plt.close(fig)
        raise
    line = f" The threshold is {threshold}." if threshold is not None else ""
    shown = ", ".join(f"{x}: {counts[x]}" for x in xs if counts[x])
    return _finish(fig, fmt, title, f"Pupils at each {unit}: {shown or 'none'}.{line}")


def _finish(fig, fmt: str, title: str, description: str) -> bytes:
    """The figure as SVG (with its title and a text description, for screen readers) or PNG,
    with no date in it, so the same figures give the same bytes; the figure is closed."""
    try:
        fig.tight_layout()
        out = io.BytesIO()
        # To the bounds of what is drawn: a legend below the axes is never cut ("Englai").
        fig.savefig(out, format=fmt, metadata=None if fmt == "png" else {"Date": None},
                    bbox_inches="tight", pad_inches=0.08)  # fmt: skip
    finally:
        plt.close(fig)
    data = out.getvalue()
    return _accessible(data, title, description) if fmt == "svg" else data


def _describe(categories, series) -> str:
    parts = []
    for name, values, *_ in series:
        shown = ", ".join(
            f"{c} {'no figure' if v is None else ('suppressed' if isinstance(v, str) else f'{v:g}%')}"
            for c, v in zip(categories, values, strict=True)
        )
        parts.append(f"{name}: {shown}.")
    return " ".join(parts)


def _accessible(svg: bytes, title: str, desc: str) -> bytes:
    """Give the SVG a role, a <title> and a <desc> (read by assistive technology)."""
    text = svg.decode("utf-8")
    start = text.index("<svg")
    end = text.index(">", start)
    head = text[start:end]
    head += ' role="img" aria-labelledby="chart-title chart-desc"'
    labels = (
        f'<title id="chart-title">{escape(title)}</title>'
        f'<desc id="chart-desc">{escape(desc)}</desc>'
    )
    return (text[:start] + head + ">" + labels + text[end + 1 :]).encode("utf-8")


def _wrapped(text: str, width: int) -> str:
    """`text` on lines of about `width` characters, never breaking "(n = 12)"."""
    kept = re.sub(r"\(n = ([^)]*)\)", lambda m: f"(n\u00a0=\u00a0{m.group(1)})", text)
    return "\n".join(textwrap.wrap(kept, width)).replace("\u00a0", " ") or text


# The gap analysis' chart is drawn at the size the page shows it (half the page's 960 px
# column; the narrow drawing at a phone's 320 px), so that its words are at least 11 px there:
# 8.5 points and up, at 4/3 px a point.
_GROUP_WIDTH = {False: 4.5, True: 3.0}  # inches
_GROUP_TEXT = 9
_GROUP_SMALL_TEXT = 8.5


def group_bars(
    title: str,
    categories: list[str],
    series: list[tuple],
    *,
    small: list[list[bool]] | None = None,
    small_words: str = "few pupils: treat with caution",
    fmt: str = "svg",
    narrow: bool = False,
    xlabel: str = "Percentage of eligible pupils",
) -> bytes:
    """Pupil groups down the side (their names in words, as given), one bar per series across
    ((name, values) or (name, values, level): an area's level gives its colour, as everywhere);
    values are percentages, None (no figure) and "c" (suppressed) draw no bar and are marked
    "–" and "c". A bar `small` marks (per series, per group) is drawn paler and hatched, its
    value followed by "*", and the legend says what that means (`small_words`)."""
    from matplotlib.patches import Patch

    n = max(len(series), 1)
    small = small or [[False] * len(categories) for _ in series]
    wrap = 16 if narrow else 22
    names = [_wrapped(c, wrap) for c in categories]
    # Each group as tall as its name or its bars (an eighth of an inch each: their values'
    # 8.5 points fit beside them), whichever is taller.
    rows = sum(max((name.count("\n") + 1) * 0.16, 0.125 * n) + 0.12 for name in names)
    width = _GROUP_WIDTH[narrow]
    fig, ax = plt.subplots(figsize=(width, 1.9 + 0.2 * n + rows), dpi=100)
    try:
        bar = 0.8 / n
        coloured = list(_coloured(series))
        for i, (name, values, colour) in enumerate(coloured):
            ys = [c + (i - (n - 1) / 2) * bar for c in range(len(categories))]
            widths = [v if isinstance(v, int | float) else 0 for v in values]
            bars = ax.barh(ys, widths, bar * 0.92, label=name, color=colour)
            for rect, v, few in zip(bars, values, small[i], strict=True):
                if few:
                    rect.set_alpha(0.35)
                    rect.set_hatch("///")
                    rect.set_edgecolor(colour)
                text = _bar_text(v) + (" *" if few else "")
                ax.annotate(text, (rect.get_width(), rect.get_y() + rect.get_height() / 2),
                            ha="left", va="center", fontsize=_GROUP_SMALL_TEXT, xytext=(2, 0),
                            textcoords="offset points")  # fmt: skip
        ax.set_yticks(range(len(categories)), names, fontsize=_GROUP_TEXT)
        ax.invert_yaxis()  # the first group at the top, as in the table
        ax.set_xlim(0, 118)
        ax.set_xticks([0, 25, 50, 75, 100])
        ax.tick_params(axis="x", labelsize=_GROUP_SMALL_TEXT)
        ax.set_xlabel(xlabel, fontsize=_GROUP_TEXT)
        ax.spines[["top", "right"]].set_visible(False)
        # The series' own colours (a legend takes its first bar's look, which may be pale).
        handles = [Patch(facecolor=colour) for _, _, colour in coloured]
        labels = [name for name, _, _ in coloured]
        if any(any(s) for s in small):
            handles.append(Patch(facecolor="white", edgecolor="#505a5f", hatch="///"))
            labels.append(f"* {small_words}")
        labels = [_wrapped(label, 30 if narrow else 44) for label in labels]
        # Below the axis and its label, in the middle of the whole drawing.
        below = transforms.offset_copy(ax.transAxes, fig=fig, y=-34, units="points")
        where = transforms.blended_transform_factory(fig.transFigure, below)
        ax.legend(handles, labels, fontsize=_GROUP_TEXT, loc="upper center",
                  bbox_to_anchor=(0.5, 0), bbox_transform=where, ncol=1,
                  frameon=False)  # fmt: skip
        # Over the whole drawing, not the axes beside the groups' names: it has the room.
        fig.suptitle("\n".join(textwrap.wrap(title, 34 if narrow else 52)), fontsize=10)
    except BaseException:
        plt.close(fig)
        raise
    description = _describe(categories, series)
    marked = [
        f"{name}: {c}" for (name, _, _), few in zip(coloured, small, strict=True)
        for c, is_small in zip(categories, few, strict=True) if is_small
    ]  # fmt: skip
    if marked:
        description += f" Marked * ({small_words}): {', '.join(marked)}."
    return _finish(fig, fmt, title, description)
