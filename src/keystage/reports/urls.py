"""Pages of the reports app: summary, pupil list, gap analysis, provisional national figures
and their downloads. `level` is school, la, region or england; `code` its LAESTAB, LA code, DfE
region code or 970."""

from django.urls import path

from keystage.reports import views

urlpatterns = [
    path("reports", views.index, name="reports"),
    path("reports/national", views.national, name="report-national"),
    path("reports/national.<str:fmt>", views.national_export, name="report-national-export"),
    path("reports/official", views.official, name="report-official"),
    path("reports/official.<str:fmt>", views.official_export, name="report-official-export"),
    path("reports/open-data.csv", views.open_data, name="report-open-data"),
    path("reports/open-data.meta.csv", views.open_data_meta, name="report-open-data-meta"),
    path("reports/open-data.zip", views.open_data_zip, name="report-open-data-zip"),
    path("reports/school/<str:code>/pupils", views.pupils, name="report-pupils"),
    path(
        "reports/school/<str:code>/pupils.<str:fmt>",
        views.pupils_export,
        name="report-pupils-export",
    ),  # fmt: skip
    path("reports/la/<str:code>/pack", views.pack_create, name="report-pack-create"),
    path("reports/packs/<int:pack_id>", views.pack, name="report-pack"),
    path("reports/packs/<int:pack_id>.pdf", views.pack_download, name="report-pack-download"),
    path("reports/<str:level>/<str:code>/summary", views.summary, name="report-summary"),
    path(
        "reports/<str:level>/<str:code>/summary.<str:fmt>",
        views.summary_export,
        name="report-summary-export",
    ),  # fmt: skip
    path("reports/<str:level>/<str:code>/gap", views.gap, name="report-gap"),
    path(
        "reports/<str:level>/<str:code>/gap.<str:fmt>", views.gap_export, name="report-gap-export"
    ),  # fmt: skip
    path(
        "reports/<str:level>/<str:code>/gap-chart.<str:fmt>",
        views.gap_chart,
        name="report-gap-chart",
    ),  # fmt: skip
    path(
        "reports/<str:level>/<str:code>/distribution-chart.<str:fmt>",
        views.distribution_chart,
        name="report-distribution-chart",
    ),  # fmt: skip
    path(
        "reports/<str:level>/<str:code>/trend-chart.<str:fmt>",
        views.trend_chart,
        name="report-trend-chart",
    ),  # fmt: skip
]
