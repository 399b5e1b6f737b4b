"""Report pages: a collection's summary, pupil list, gap analysis, provisional national figures and their
comparison with DfE's published figures, with CSV, Excel, PDF and chart downloads.

Views parse the request, find the area among those the user may see (`accounts.scope`), check
the role and what the LA lets its schools see (`collection.visibility`), read the figures for
this viewer (`queries`, which applies disclosure control) and respond. Another LA's or school's
pages answer 404; a role that may not see a page answers 403."""

from __future__ import annotations

import functools
import io
import zipfile
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST, require_safe

from keystage.accounts.models import Role
from keystage.accounts.scope import las_for, membership_of, schools_for, scoped
from keystage.collection import exports
from keystage.collection.actions import do_record_view
from keystage.collection.visibility import school_may_see
from keystage.engine import definition as definitions
from keystage.engine.provisional import NOT_LIKE_THE_REST
from keystage.engine.words import sentence_start
from keystage.orgs.models import Region
from keystage.output import write_csv
from keystage.reports import actions, charts, group_gaps, queries, rendering
from keystage.reports.disclosure import SUPPRESSED, threshold, viewer_for
from keystage.reports.models import ReportPack
from keystage.submissions.actions import get_collection
from keystage.submissions.models import Collection
from keystage.submissions.queries import pupil_fields, pupil_list
from keystage.web.links import redirect, reverse

LA_READERS = (Role.NATIONAL_ADMIN, Role.LA_ADMIN, Role.LA_OFFICER, Role.LA_RESTRICTED)
PACK_MAKERS = (Role.NATIONAL_ADMIN, Role.LA_ADMIN, Role.LA_OFFICER)
LEVELS = ("school", "la", "region", "england")
TABLE_FORMATS = ("csv", "xlsx", "pdf")
PUPIL_SORTS = ("upn", "surname", "forename", "dob", "sex", "errors", "queries", "la_change")


class Hidden(Exception):
    """The LA does not let its schools see this yet; the page says so."""

    def __init__(self, la, level):
        self.la, self.level = la, level


def _collection():
    return get_collection()


def _role(request):
    membership = membership_of(request.user)
    return membership.role if membership else None


def _area(request, level: str, code: str, *, comparisons: bool = True):
    """(the area and its comparators, the school or LA row) for a page at `level`/`code`, if
    this user may see it. A school user sees only their school, and only what their LA lets
    schools see (`Hidden`). 404 for what the user may not see; 403 for a role that may not see
    this kind of page."""
    if level not in LEVELS:
        raise Http404("No such report")
    role = _role(request)
    if role is None:
        raise PermissionDenied("Your account has no role")
    collection = _collection()
    if level == "school":
        school = get_object_or_404(
            schools_for(request.user).select_related("la__region"), laestab=code
        )
        if role == Role.SCHOOL_USER:
            if not school_may_see(collection, school.la, "provisional"):
                raise Hidden(school.la, "provisional")
            if comparisons and not school_may_see(collection, school.la, "comparisons"):
                raise Hidden(school.la, "comparisons")
            if not school_may_see(collection, school.la, "comparisons"):
                return queries.school_area(school)[:1], school
        return queries.school_area(school), school
    if role == Role.SCHOOL_USER:
        _school_comparisons(request, collection)
    if level == "la":
        la = get_object_or_404(las_for(request.user).select_related("region"), code=code)
        if role not in LA_READERS:
            raise PermissionDenied("Your role cannot see LA reports")
        return queries.la_area(la), la
    if level == "region":
        region = get_object_or_404(Region, dfe_code=code)
        return queries.region_area(region), region
    if level == "england" and code == queries.NATIONAL_CODE:
        return [queries.ENGLAND], None
    raise Http404("No such report")


def _school_comparisons(request, collection):
    """A school user sees regional and national figures only when their LA allows comparisons."""
    membership = membership_of(request.user)
    if membership and membership.role == Role.SCHOOL_USER:
        la = membership.school.la if membership.school else membership.la
        if not school_may_see(collection, la, "comparisons"):
            raise Hidden(la, "comparisons")


def _hidden_page(request, e: Hidden):
    return render(request, "reports/not_yet.html", {"la": e.la, "level": e.level}, status=200)


def shows_hidden_page(view):
    """A report a school user's LA does not let them see yet answers with a page that says so
    (`Hidden`), whichever report or download it is."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except Hidden as e:
            return _hidden_page(request, e)

    return wrapped


def _url_level(area) -> tuple[str, str]:
    return ("england" if area.level == "national" else area.level), area.code


def _links(area) -> dict:
    level, code = _url_level(area)
    return {
        "summary": reverse("report-summary", kwargs={"level": level, "code": code}),
        "gap": reverse("report-gap", kwargs={"level": level, "code": code})
        if level != "england"
        else None,
        "pupils": reverse("report-pupils", kwargs={"code": code}) if level == "school" else None,
    }


def _cell(figure) -> dict:
    if figure is None:
        return {"text": "–"}
    if figure.hidden:
        return {"text": SUPPRESSED, "classes": "keystage-suppressed"}
    if figure.count is None:  # held back (the phonics threshold not yet published) or uncounted
        return {"text": "–"}
    if figure.percent is None:
        return {"text": "no pupils"}
    return {
        "percent": queries.rounded(figure.percent, queries.PLACES),
        "count": figure.count,
        "eligible": figure.eligible,
    }


# -- index ------------------------------------------------------------------------------------


@require_safe
def index(request):
    """/reports: the reports this user may open."""
    membership = membership_of(request.user)
    if membership is None:
        return redirect("home")
    collection = _collection()
    context = {"collection": collection, "role": membership.role, "word": _word(collection)}
    if membership.role == Role.SCHOOL_USER:
        context["schools"] = list(schools_for(request.user))
        context["may_see"] = school_may_see(collection, membership.school.la, "provisional")
        context["comparisons"] = school_may_see(collection, membership.school.la, "comparisons")
    elif membership.role == Role.LA_RESTRICTED:
        context["schools"] = list(schools_for(request.user))
        context["las"] = list(las_for(request.user))
    else:
        context["las"] = list(las_for(request.user).order_by("code"))
        if membership.role != Role.NATIONAL_ADMIN:
            context["schools"] = list(schools_for(request.user).order_by("laestab"))
    context["regions"] = list(Region.objects.order_by("dfe_code"))
    return render(request, "reports/index.html", context)


def _word(collection) -> str:
    """How the pages name the collection's reports: "KS1", "Phonics"."""
    return queries.words(collection)[1]


# -- summary ----------------------------------------------------------------------------------


def _trend_subject(request, keys: list[str], name: str = "trend") -> str:
    """The subject asked for in the trend chart, or the first with a published series."""
    asked = request.GET.get(name)
    return asked if asked in keys else (keys[0] if keys else "")


def _summary_context(request, level, code):
    area_list, place = _area(request, level, code, comparisons=False)
    collection = _collection()
    viewer = viewer_for(request.user)
    found = queries.figures(collection, area_list, ["all"], viewer)
    labels = queries.subject_labels(collection)
    measure_labels = queries.measure_labels(collection)
    trend_keys = queries.trend_subjects(collection)
    columns = [(a, found.get((a.level, a.code), {}).get("all")) for a in area_list]
    rows = [{
        "label": "Pupils",
        "cells": [{"text": "–"} if f is None else
                  ({"text": SUPPRESSED} if f.pupils_hidden else {"text": f.pupils})
                  for _, f in columns],
    }]  # fmt: skip
    for subject in queries.subject_keys(collection):
        for measure in queries.MEASURES:
            cells = []
            for _, f in columns:
                figure = f.subjects.get(subject, {}).get(measure) if f else None
                cells.append(_cell(figure))
            if all(c.get("text") == "–" for c in cells) and measure == "higher":
                continue
            rows.append({
                "label": f"{labels[subject]}: {measure_labels[measure]}",
                "cells": cells,
            })  # fmt: skip
    own = queries.own_reports(collection)
    # Rows that are averages (the profile's goals at the expected level): each rests on the
    # pupils of the headline row, and is hidden where that row is.
    for i, (label, values) in enumerate(queries.average_rows(collection, [f for _, f in columns])):
        cells = [{"text": "–" if v is None else (v if v == SUPPRESSED else f"{v:.1f}")}
                 for v in values]  # fmt: skip
        rows.insert(3 + i, {"label": label, "cells": cells})  # after the two headlines
    main = columns[0][1]
    codes, distributions, notes = [], [], []
    if main is not None:
        notes = own.notes(main.measures)
        url_level, url_code = _url_level(area_list[0])
        chart = reverse("report-distribution-chart",
                        kwargs={"level": url_level, "code": url_code, "fmt": "svg"})  # fmt: skip
        for d in queries.distributions(collection, main):
            query = "?" + urlencode({"group": d["key"]})
            distributions.append({
                **d, "chart": chart + query, "chart_png": chart[: -len("svg")] + "png" + query,
            })  # fmt: skip
    if main is not None and not main.pupils_hidden:
        for table in own.outcome_tables(main.measures):
            hidden = main.subjects[table["key"]]["met"].hidden
            codes.append({
                "subject": labels[table["key"]],
                "eligible": SUPPRESSED if hidden else table["eligible"],
                "codes": [(code, SUPPRESSED if hidden else n,
                           SUPPRESSED if hidden else queries.rounded(p, queries.PLACES))
                          for code, n, p in table["codes"]],
            })  # fmt: skip
    trend = queries.trend(collection, area_list) if len(area_list) > 1 or level != "school" else []
    trend_areas = []
    for a in area_list:
        rows_of = [r for r in trend if (r["level"], r["code"]) == (a.level, a.code)]
        if rows_of:
            f = found.get((a.level, a.code), {}).get("all")
            provisional = {
                f"{s}_{m}": (_cell(f.subjects[s][m]).get("percent", SUPPRESSED) if f else None)
                for s, m in queries.published_columns(collection)
            }
            trend_areas.append({"area": a, "rows": rows_of, "provisional": provisional})
    years = sorted({r["year"] for r in trend})
    first = queries.comparable_from(collection)
    return {
        "published_places": queries.published_places(collection),
        "comparable_from": first,
        "older_years": sorted({r["year"] for r in trend if not r["comparable"]}),
        "word": _word(collection),
        "year": str(definitions.load(collection.code).year),
        "trend_years": f"{years[0]} to {years[-1]}" if years else "",
        "distributions": distributions,
        "notes": notes,
        "outcome_note": own.OUTCOME_NOTE,
        # What the tables of outcomes are called, and their first column (the EYFS profile's
        # are of each goal at the expected level, not of each outcome code).
        "outcome_title": getattr(own, "OUTCOME_TITLE", "Pupils at each outcome"),
        "outcome_code": getattr(own, "OUTCOME_CODE", "Code"),
        "outcome_per_row": getattr(own, "OUTCOME_PER_ROW", 4),
        "collection": collection,
        "area": area_list[0],
        "place": place,
        "columns": [a for a, _ in columns],
        "rows": rows,
        "codes": codes,
        "trend_areas": trend_areas,
        "trend_subjects": [(s, labels[s]) for s in trend_keys],
        "trend_subject": _trend_subject(request, trend_keys),
        "trend_label": labels.get(_trend_subject(request, trend_keys), ""),
        "trend_phrase": own.TREND_PHRASE,
        "row_heading": queries.row_heading(collection),
        "links": _links(area_list[0]),
        "has_figures": main is not None,
        "threshold": threshold(),
        "comparisons": len(area_list) > 1 or level != "school",
        "may_make_pack": level == "la" and _role(request) in PACK_MAKERS,
    }


@require_safe
@shows_hidden_page
def summary(request, level, code):
    context = _summary_context(request, level, code)
    return render(request, "reports/summary.html", context)


# -- gap analysis -----------------------------------------------------------------------------


def _gap_params(request, collection):
    subject = request.GET.get("subject", queries.headline(collection))
    if subject not in queries.subject_keys(collection):
        subject = queries.headline(collection)
    measure = request.GET.get("measure", "met")
    if measure not in queries.MEASURES or (
        measure == "higher" and not queries.has_higher(collection, subject)
    ):
        measure = "met"
    return subject, measure


def _gap_context(request, level, code):
    """The gap analysis of an area, as a dict the page, its downloads, its charts and the PDF
    read (never change what it holds: parts of it are kept and shared):

    - `collection`, `area` (queries.Area), `place` (the School, LocalAuthority or Region),
      `comparators` (the Areas it is compared with: LA, region, England), `links`, `query`;
    - `subject`, `measure` (chosen on the page), `subject_label`, `measure_label`, `word`,
      `subjects`, `measures` (the choices), `row_heading`;
    - `threshold` (disclosure control: figures on fewer pupils are "c" outside their school
      or LA) and `reliable_pupils` (figures on fewer are marked "treat with caution");
    - `dimensions`: [{key, label, rows, chart, chart_png}] of the chosen subject and measure,
      each row a `queries.gap` row (GAP_EXPORT_FIELDS: `<level>_percent`, `<level>_eligible` (its n),
      `<level>_gap`) with `label` (the group in words) and `small` ({level: True when that
      figure rests on fewer than `reliable_pupils` pupils});
    - `between_groups`: [{measure, heading, rows}], one table per measure of the chosen
      subject, each row a `group_gaps.between_groups` row (`label`, `<level>_gap`,
      `<level>_first_percent`, `<level>_first_eligible`, `<level>_second_...`,
      `<level>_small`, `vs_national`);
    - `all_rows`: every `queries.gap` row (the CSV and Excel downloads), codes as they are."""
    if level == "england":
        raise Http404("A gap analysis needs an area below England")
    area_list, place = _area(request, level, code)
    collection = _collection()
    subject, measure = _gap_params(request, collection)
    report = group_gaps.gap_report(collection, area_list, viewer_for(request.user))
    levels = [a.level for a in area_list]
    labels = queries.subject_labels(collection)
    url_level, url_code = _url_level(area_list[0])
    chart = reverse("report-gap-chart", kwargs={"level": url_level, "code": url_code, "fmt": "svg"})
    chart_png = chart[: -len("svg")] + "png"

    def chart_query(d):
        return "?" + urlencode({"dimension": d, "subject": subject, "measure": measure})

    return {
        "collection": collection,
        "area": area_list[0],
        "place": place,
        "comparators": area_list[1:],
        "subject": subject,
        "measure": measure,
        "subject_label": labels[subject],
        "measure_label": queries.measure_labels(collection)[measure],
        "word": _word(collection),
        "subjects": list(labels.items()),
        "measures": queries.measure_headings(collection),
        "row_heading": queries.row_heading(collection),
        "dimensions": [
            {
                **d,
                "chart": chart + chart_query(d["key"]),
                "chart_png": chart_png + chart_query(d["key"]),
            }
            for d in group_gaps.dimensions(report, levels, subject, measure)
        ],  # fmt: skip
        "between_groups": group_gaps.between_tables(
            report, subject, dict(queries.measure_headings(collection))
        ),
        "all_rows": report.rows,
        "links": _links(area_list[0]),
        "threshold": threshold(),
        "reliable_pupils": report.reliable_pupils,
        "query": urlencode({"subject": subject, "measure": measure}),
    }


@require_safe
@shows_hidden_page
def gap(request, level, code):
    context = _gap_context(request, level, code)
    return render(request, "reports/gap.html", context)


def _with_n(label: str, n) -> str:
    """A group's name with the pupils its figure rests on: "Girls (n = 7)"."""
    if n is None:
        return label
    return f"{label} (n = {n:,})" if isinstance(n, int) else f"{label} (n = {n})"


def _gap_chart_data(context, dimension):
    """(title, each group's name with its n, [(area name, its percentages)]) of a dimension's
    chart."""
    found = next((d for d in context["dimensions"] if d["key"] == dimension), None)
    if found is None:
        raise Http404("No such pupil group in this area")
    area = context["area"]
    series = [(area.name, [r["area_percent"] for r in found["rows"]], area.level)]
    for comparator in context["comparators"]:
        series.append((comparator.name, [r[f"{comparator.level}_percent"] for r in found["rows"]],
                       comparator.level))  # fmt: skip
    title = f"{context['subject_label']}, {context['measure_label']}, by {found['label'].lower()}"
    categories = [_with_n(r["label"], r["area_eligible"]) for r in found["rows"]]
    return title, categories, series


def _gap_chart_small(context, dimension) -> list[list[bool]]:
    """Per series of `_gap_chart_data`, whether each bar rests on fewer pupils than can be
    relied on (drawn paler and marked)."""
    found = next(d for d in context["dimensions"] if d["key"] == dimension)
    levels = [context["area"].level] + [c.level for c in context["comparators"]]
    return [[r["small"][level] for r in found["rows"]] for level in levels]


@require_safe
@shows_hidden_page
def gap_chart(request, level, code, fmt):
    if fmt not in charts.FORMATS:
        raise Http404("Charts are svg or png")
    context = _gap_context(request, level, code)
    dimension = request.GET.get("dimension", "all")
    title, categories, series = _gap_chart_data(context, dimension)
    chart = charts.group_bars(
        title, categories, series, small=_gap_chart_small(context, dimension),
        small_words=f"fewer than {context['reliable_pupils']} pupils: treat with caution",
        fmt=fmt, narrow=_narrow(request),
    )  # fmt: skip
    return _image(chart, fmt)


@require_safe
@shows_hidden_page
def distribution_chart(request, level, code, fmt):
    """The distribution of one group (`?group=y1`) of the summary's area over its scale, with
    the threshold drawn once it is published."""
    if fmt not in charts.FORMATS:
        raise Http404("Charts are svg or png")
    context = _summary_context(request, level, code)
    found = next((d for d in context["distributions"] if d["key"] == request.GET.get("group")),
                 None)  # fmt: skip
    if found is None:
        raise Http404("No distribution for this group in this area")
    title = f"{found['label']}: pupils at each {found['unit']}, {context['area'].name}"
    chart = charts.distribution(title, found["marks"], found["threshold"], unit=found["unit"],
                                fmt=fmt, narrow=_narrow(request))  # fmt: skip
    return _image(chart, fmt)


def _narrow(request) -> bool:
    """Whether the chart is asked for at a phone's width (`?size=narrow`, the pages' <picture>
    source below 641 px)."""
    return request.GET.get("size") == "narrow"


def _image(data: bytes, fmt: str) -> HttpResponse:
    response = HttpResponse(data, content_type=charts.FORMATS[fmt])
    response["Cache-Control"] = "private, max-age=60"
    return response


@require_safe
@shows_hidden_page
def trend_chart(request, level, code, fmt):
    if fmt not in charts.FORMATS:
        raise Http404("Charts are svg or png")
    context = _summary_context(request, level, code)
    collection = context["collection"]
    subject = _trend_subject(request, queries.trend_subjects(collection), "subject")
    area_list, _ = _area(request, level, code, comparisons=False)
    held = queries.held_years(collection, area_list[:1], viewer_for(request.user))
    found = rendering.trend_lines(collection, area_list, held, subject)
    if found is None:
        raise Http404("No trend for this area")
    _, title, _, years, lines = found
    return _image(rendering.trend_chart(title, years, lines, fmt=fmt, narrow=_narrow(request)),
                  fmt)  # fmt: skip


# -- pupil list -------------------------------------------------------------------------------


def _pupil_rows(request, school):
    collection = _collection()
    rows = list(pupil_list(collection, school=school.laestab))
    subjects = list(definitions.load(collection.code).subject_keys)
    params = {
        "q": request.GET.get("q", "").strip(),
        "subject": request.GET.get("subject", ""),
        "code": request.GET.get("code", "").strip().upper(),
        "flag": request.GET.get("flag", ""),
        "sort": request.GET.get("sort", "surname"),
        "dir": "desc" if request.GET.get("dir") == "desc" else "",
    }
    if params["sort"] not in (*PUPIL_SORTS, *subjects):
        params["sort"] = "surname"
    if params["subject"] not in subjects:
        params["subject"] = ""
    if params["flag"] not in ("", "errors", "queries", "any", "la_change"):
        params["flag"] = ""
    if params["q"]:
        needle = params["q"].lower()
        rows = [
            r for r in rows
            if needle in f"{r['upn']} {r['surname']} {r['forename']}".lower()
        ]  # fmt: skip
    if params["subject"] and params["code"]:
        rows = [r for r in rows if r[params["subject"]] == params["code"]]
    elif params["code"]:
        rows = [r for r in rows if params["code"] in (r[s] for s in subjects)]
    if params["flag"] == "errors":
        rows = [r for r in rows if r["errors"]]
    elif params["flag"] == "queries":
        rows = [r for r in rows if r["queries"]]
    elif params["flag"] == "any":
        rows = [r for r in rows if r["errors"] or r["queries"]]
    elif params["flag"] == "la_change":
        rows = [r for r in rows if r["la_change"]]
    key = params["sort"]
    rows.sort(key=lambda r: (r[key], r["surname"], r["forename"]), reverse=params["dir"] == "desc")
    return collection, rows, params, subjects


@require_safe
@shows_hidden_page
def pupils(request, code):
    _, school = _area(request, "school", code, comparisons=False)
    collection, rows, params, subjects = _pupil_rows(request, school)
    do_record_view("view.report_pupil_list", user=request.user, la=school.la, school=school,
                   collection=collection.code, filters={k: v for k, v in params.items() if v},
                   rows=len(rows))  # fmt: skip

    def link(**changes):
        merged = {**params, **changes}
        return "?" + urlencode({k: v for k, v in merged.items() if v})

    sort_links = {
        key: link(sort=key, dir="desc" if params["sort"] == key and not params["dir"] else "")
        for key in (*PUPIL_SORTS, *subjects)
    }
    return render(request, "reports/pupils.html", {
        "collection": collection, "school": school, "rows": rows, "params": params,
        "subjects": subjects, "word": _word(collection),
        "item_word": queries.own_reports(collection).ITEM_WORD,
        "labels": {s.key: s.label for s in definitions.load(collection.code).subjects},
        "sort_links": sort_links, "query": link()[1:],
        "links": _links(queries.school_area(school)[0]),
    })  # fmt: skip


# -- national ---------------------------------------------------------------------------------


@require_safe
@shows_hidden_page
def national(request):
    if _role(request) is None:
        return redirect("home")
    collection = _collection()
    _school_comparisons(request, collection)
    report = queries.national_report(collection, viewer=viewer_for(request.user))
    labels = queries.subject_labels(collection)
    measure_labels = queries.measure_labels(collection)
    by_area: dict = {}
    for r in report.rows:
        by_area.setdefault((r["level"], r["code"]), {"area": r, "subjects": []})["subjects"].append(
            {**r, "label": labels[r["subject"]]}
        )
    headline = queries.headline(collection)
    for found in by_area.values():
        subjects = found["subjects"]
        found["headline"] = next((s for s in subjects if s["subject"] == headline), subjects[0])
        found["unlike"] = [
            f"{s['label']}, {measure_labels[m]}"
            for s in subjects for m in queries.MEASURES if s[f"{m}_not_like_the_rest"] is True
        ]  # fmt: skip
    return render(request, "reports/national.html", {
        "collection": collection, "areas": list(by_area.values()), "threshold": threshold(),
        "measures": queries.measure_headings(collection), "row_heading": queries.row_heading(collection),
        "phrase": queries.own_reports(collection).TREND_PHRASE,
        "partly_loaded": report.partly_loaded,
        "loaded_share": queries.rounded(100 * report.loaded_share, 0),
        "movement": report.movement,
        "movement_columns": [
            (key, f"{labels[key[0]]}: {measure_labels[key[1]]}") for key in report.movement_keys
        ],
        "not_like_the_rest": NOT_LIKE_THE_REST,
        "min_las_shown": queries.MIN_LAS_FOR_AN_INTERVAL_SHOWN,
    })  # fmt: skip


def _official_rows(request, collection):
    viewer = viewer_for(request.user)
    role = _role(request)
    las = las_for(request.user) if role in PACK_MAKERS else []
    return queries.official(
        collection, viewer=viewer, las=list(las.order_by("code")) if las else []
    )


@require_safe
@shows_hidden_page
def official(request):
    if _role(request) is None:
        return redirect("home")
    collection = _collection()
    _school_comparisons(request, collection)
    rows = _official_rows(request, collection)
    labels = queries.subject_labels(collection)
    for r in rows:
        r["label"] = f"{labels[r['subject']]}: {queries.measure_labels(collection)[r['measure']]}"
    by_area: dict = {}
    for r in rows:
        by_area.setdefault((r["level"], r["code"]), {"area": r, "rows": []})["rows"].append(r)
    return render(request, "reports/official.html", {
        "collection": collection, "areas": list(by_area.values()), "threshold": threshold(),
        "year": str(definitions.load(collection.code).year),
        "published_places": queries.published_places(collection),
    })  # fmt: skip


# -- downloads --------------------------------------------------------------------------------


def _table(fmt, stem, fields, rows, *, title, request, subtitle="", note=""):
    if fmt == "pdf":
        collection = _collection()
        section = rendering.section(title, fields, list(rows), collection=collection,
                                    subtitle=subtitle or collection.name, note=note)  # fmt: skip
        return rendering.pdf_response(stem, title, [section])
    return exports.download(fmt, stem, fields, rows)


@require_safe
@shows_hidden_page
def summary_export(request, level, code, fmt):
    if fmt not in TABLE_FORMATS:
        raise Http404("Choose csv, xlsx or pdf")
    context = _summary_context(request, level, code)
    area_list, place = _area(request, level, code, comparisons=False)
    collection, viewer = context["collection"], viewer_for(request.user)
    word, title_word = queries.words(collection)
    stem = f"{word}-summary-{level}-{code}"
    if fmt == "pdf":  # a designed page: headline, comparators, bars, trend, distributions
        found = queries.figures(collection, area_list, ["all"], viewer)
        held = queries.held_years(collection, area_list[:1], viewer)
        trend = rendering.trend_block(collection, area_list, held)
        section = rendering.summary_section(collection, area_list, found, place=place,
                                            trend=trend)  # fmt: skip
        return rendering.pdf_response(stem, f"{title_word} summary: {context['area'].name}",
                                      [section])  # fmt: skip
    rows = queries.summary(collection, viewer=viewer, area_list=area_list)
    fields = queries.fields_for(collection, queries.SUMMARY_FIELDS)
    return exports.download(fmt, stem, fields, rows)


@require_safe
@shows_hidden_page
def gap_export(request, level, code, fmt):
    if fmt not in TABLE_FORMATS:
        raise Http404("Choose csv, xlsx or pdf")
    context = _gap_context(request, level, code)
    word, title_word = queries.words(context["collection"])
    stem = f"{word}-gap-{level}-{code}"
    if fmt == "pdf":  # the page's row and measure, a chart and a table per kind of group
        section = rendering.gap_section(
            context["collection"], context["area"], context["comparators"],
            context["dimensions"], subject_label=context["subject_label"],
            measure_label=context["measure_label"], place=context["place"],
            between=context.get("between_groups") or [],
        )  # fmt: skip
        return rendering.pdf_response(
            stem, f"{title_word} gap analysis: {context['area'].name}", [section]
        )
    return exports.download(fmt, stem, queries.GAP_EXPORT_FIELDS, context["all_rows"])


@require_safe
@shows_hidden_page
def pupils_export(request, code, fmt):
    if fmt not in TABLE_FORMATS:
        raise Http404("Choose csv, xlsx or pdf")
    _, school = _area(request, "school", code, comparisons=False)
    collection, rows, params, _ = _pupil_rows(request, school)
    do_record_view("export.report_pupil_list", user=request.user, la=school.la, school=school,
                   collection=collection.code, filters={k: v for k, v in params.items() if v},
                   rows=len(rows), format=fmt)  # fmt: skip
    word, title_word = queries.words(collection)
    return _table(fmt, f"{word}-pupils-{code}", pupil_fields(collection), rows,
                  title=f"{title_word} pupil list: {school.laestab} {school.name}",
                  request=request)  # fmt: skip


@require_safe
@shows_hidden_page
def national_export(request, fmt):
    if fmt not in TABLE_FORMATS:
        raise Http404("Choose csv, xlsx or pdf")
    if _role(request) is None:
        raise PermissionDenied("Your account has no role")
    collection = _collection()
    _school_comparisons(request, collection)
    rows = queries.national(collection, viewer=viewer_for(request.user))
    word, title_word = queries.words(collection)
    title = f"{title_word} provisional national and regional figures"
    stem = f"{word}-provisional-national"
    if fmt == "pdf":  # a table per measure, of the fields that fit a page across
        return rendering.pdf_response(stem, title, [_national_pdf(collection, rows, title)])
    return exports.download(fmt, stem, queries.fields_for(collection, queries.NATIONAL_FIELDS),
                            rows)  # fmt: skip


def _national_pdf(collection, rows, title) -> dict:
    """The national figures' PDF: for each measure a table of each area's estimate, its 95%
    interval, the LAs loaded together and the mean change; why an estimate is missing below."""
    labels = queries.measure_labels(collection)
    tables = []
    for m in queries.measures_shown(collection):
        fields = ["name", "subject", "las_loaded", "las", "coverage_percent", "eligible",
                  f"{m}_percent", f"{m}_low", f"{m}_high", f"{m}_pooled", f"{m}_mean_change"]  # fmt: skip
        headings = {f"{m}_percent": "Estimate %", f"{m}_low": "95% interval from",
                    f"{m}_high": "95% interval to", f"{m}_pooled": "LAs loaded, together %",
                    f"{m}_mean_change": "Mean change since last year (points)",
                    "eligible": "Eligible pupils loaded"}  # fmt: skip
        tables.append(rendering.section("", fields, rows, collection=collection,
                                        caption=sentence_start(labels[m]),
                                        headings=headings))  # fmt: skip
    reasons = {f"{r['name']}: {r['met_reason']}": None for r in rows if r["met_reason"]}
    note = ("The estimate is of the final figure, with its 95% interval; \"LAs loaded, "
            "together\" is the pupils of the LAs loaded so far taken together. "
            + " ".join(reasons))  # fmt: skip
    return rendering.tables_section(title, tables, subtitle=collection.name, note=note)


@require_safe
@shows_hidden_page
def official_export(request, fmt):
    if fmt not in TABLE_FORMATS:
        raise Http404("Choose csv, xlsx or pdf")
    if _role(request) is None:
        raise PermissionDenied("Your account has no role")
    collection = _collection()
    _school_comparisons(request, collection)
    rows = _official_rows(request, collection)
    word, title_word = queries.words(collection)
    year = definitions.load(collection.code).year
    return _table(fmt, f"{word}-provisional-against-published", queries.OFFICIAL_FIELDS, rows,
                  title=f"{title_word} provisional figures against DfE's published {year} figures",
                  request=request)  # fmt: skip


def _open_data_files(request, *, data: bool = True) -> tuple[Collection, dict[str, str]]:
    """{file name: CSV text} of the open data for EES: the data file (when `data`) and its
    metadata file, named as EES pairs them (`x.csv`, `x.meta.csv`)."""
    collection = _collection()
    _school_comparisons(request, collection)
    stem = queries.open_data_stem(collection)
    files = {}
    if data:
        fields, rows = queries.open_data(collection, viewer=viewer_for(request.user))
        files[f"{stem}.csv"] = _csv_text(fields, rows)
    fields, rows = queries.open_data_meta(collection)
    files[f"{stem}.meta.csv"] = _csv_text(fields, rows)
    return collection, files


def _csv_text(fields, rows) -> str:
    out = io.StringIO()
    write_csv(out, fields, rows)
    return out.getvalue()


def _attachment(content, content_type: str, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_safe
@shows_hidden_page
def open_data(request):
    """England, regions and the LAs the user owns (as LA admin or officer), in the column layout
    of DfE's EES files of the collection (KS1's `t_readta_*`, phonics' `t_phonics_y1_*`): the
    data file of EES's open data standards (docs/open-data.md)."""
    if _role(request) is None:
        return redirect("home")
    _, files = _open_data_files(request)
    name = next(n for n in files if not n.endswith(".meta.csv"))
    return _attachment(files[name], "text/csv; charset=utf-8", name)


@require_safe
@shows_hidden_page
def open_data_meta(request):
    """The EES metadata file of the open data: one row per indicator column."""
    if _role(request) is None:
        return redirect("home")
    _, files = _open_data_files(request, data=False)
    ((name, text),) = files.items()
    return _attachment(text, "text/csv; charset=utf-8", name)


@require_safe
@shows_hidden_page
def open_data_zip(request):
    """The data file and its metadata file in one zip, with EES's `dataset_names.csv` naming
    the data set, as EES takes a zip upload."""
    if _role(request) is None:
        return redirect("home")
    collection, files = _open_data_files(request)
    stem = queries.open_data_stem(collection)
    title = f"{queries.words(collection)[1]} {definitions.load(collection.code).year} " \
        "provisional figures (Keystage)"  # fmt: skip
    files["dataset_names.csv"] = _csv_text(
        ["file_name", "dataset_name"], [{"file_name": stem, "dataset_name": title}]
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text.encode("utf-8"))
    return _attachment(out.getvalue(), "application/zip", f"{stem}.zip")


# -- LA report packs (PDF, made by a task) ----------------------------------------------------


@require_POST
def pack_create(request, code):
    la = get_object_or_404(las_for(request.user), code=code)
    if _role(request) not in PACK_MAKERS:
        raise PermissionDenied("Your role cannot make an LA's report PDF")
    pack = actions.do_request_pack(request.user, _collection(), la)
    return redirect("report-pack", pack_id=pack.pk)


def _pack(request, pack_id) -> ReportPack:
    pack = get_object_or_404(scoped(request.user, ReportPack).select_related("la"), pk=pack_id)
    if _role(request) not in PACK_MAKERS:
        raise PermissionDenied("Your role cannot see an LA's report PDF")
    return pack


@require_safe
def pack(request, pack_id):
    found = _pack(request, pack_id)
    return render(request, "reports/pack.html", {
        "pack": found, "refresh": found.state in (ReportPack.State.QUEUED, ReportPack.State.RUNNING),
    })  # fmt: skip


@require_safe
def pack_download(request, pack_id):
    found = _pack(request, pack_id)
    if found.state != ReportPack.State.DONE or not found.pdf:
        raise Http404("This PDF is not ready")
    response = HttpResponse(bytes(found.pdf), content_type="application/pdf")
    word = queries.words(found.collection)[0]
    response["Content-Disposition"] = (
        f'attachment; filename="{word}-reports-la-{found.la.code}.pdf"'
    )
    return response
