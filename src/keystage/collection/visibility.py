"""What an LA lets its schools see of a dataset's reports (set on the LA's collection
settings). Report pages ask here before showing a school user anything."""

from __future__ import annotations

from keystage.collection.models import LaCollectionSettings

SchoolSees = LaCollectionSettings.SchoolSees
_ORDER = [SchoolSees.NOTHING, SchoolSees.PROVISIONAL, SchoolSees.COMPARISONS]


def school_sees(collection, la) -> str:
    """The LA's setting for this collection; "nothing" until the LA chooses."""
    value = (
        LaCollectionSettings.objects.filter(collection=collection, la=la)
        .values_list("school_sees", flat=True)
        .first()
    )
    return value or SchoolSees.NOTHING


def school_may_see(collection, la, level: str) -> bool:
    """Whether schools of this LA may see reports at `level` ("provisional" or
    "comparisons")."""
    return _ORDER.index(school_sees(collection, la)) >= _ORDER.index(SchoolSees(level))
