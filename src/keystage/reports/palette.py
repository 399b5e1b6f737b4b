"""One colour per comparator, the same on every chart, page legend and PDF: a school's figures
are always dark blue, its LA's turquoise, its region's dark pink and England's orange.

The colours are the first four of the Government Analysis Function's categorical chart palette
(analysisfunction.civilservice.gov.uk, "Data visualisation: colours"), chosen there to be told
apart by readers with the common colour-vision deficiencies and in that order; each has a
contrast of at least 3:1 against white (WCAG 2.2, 1.4.11, for parts of a chart), measured by
`contrast` and kept so by a test. Charts never rely on colour alone: each bar and point is
labelled with its figure and every chart has the same figures in a table beside it.

The page CSS (`web/static/keystage/reports.css`) names the same colours for its legend
swatches (`keystage-swatch--<level>`); a test keeps the two equal."""

from __future__ import annotations

# The level of an area (`queries.Area.level`) -> its colour.
COMPARATORS = {
    "school": "#12436d",  # dark blue
    "la": "#28a197",  # turquoise
    "region": "#801650",  # dark pink
    "national": "#f46a25",  # orange
}
# What a series that is not a comparator is drawn in (pupils at each mark), and the line of a
# threshold.
NEUTRAL = "#12436d"
THRESHOLD = "#3d3d3d"
# The band drawn behind years with no figures at all (2020 and 2021: no assessments).
NO_DATA = "#f3f2f1"
# Series beyond the four comparators (a chart of something else), in order.
OTHERS = ("#12436d", "#28a197", "#801650", "#f46a25", "#3d3d3d", "#a285d1")


def colour(level: str | None, index: int = 0) -> str:
    """The colour of an area's series: its comparator colour, or the `index`th of the others."""
    if level in COMPARATORS:
        return COMPARATORS[level]
    return OTHERS[index % len(OTHERS)]


def contrast(foreground: str, background: str = "#ffffff") -> float:
    """WCAG 2's contrast ratio of two colours given as #rrggbb."""

    def luminance(hex_colour: str) -> float:
        channels = [int(hex_colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)
