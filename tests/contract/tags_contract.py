"""The Catalog contract for the user's tags: listing by tag on every adapter (a mixin beside
:class:`CatalogContract`)."""

from __future__ import annotations

import pytest

from imgflow.ports import Catalog, Expect

from .catalog_contract import T0, make_record


class TagsContract:
    @pytest.fixture
    def catalog(self) -> Catalog:
        raise NotImplementedError

    def test_user_fields_round_trip(self, catalog: Catalog) -> None:
        rec = make_record(tags=("Beach", "dogs"), alt="Two dogs\non sand", metadata={"sku": "A-1", "x.y": ""})
        catalog.create(rec)
        got = catalog.get(rec.image_id)
        assert (got.tags, got.alt, got.metadata) == (("Beach", "dogs"), "Two dogs\non sand", {"sku": "A-1", "x.y": ""})

    def test_list_by_tags_is_case_insensitive_and_all_of_them(self, catalog: Catalog) -> None:
        recs = [
            make_record(created_at=T0 + i, tags=tags)
            for i, tags in enumerate([("Sea", "sun"), ("sea",), ("SUN",), ("sea", "Sun", "x"), ()])
        ]
        for rec in recs:
            catalog.create(rec)
        catalog.create(make_record("bob", created_at=T0 + 9, tags=("sea",)))
        ids = [r.image_id for r in recs]
        assert [r.image_id for r in catalog.list("alice", tags=["sea"]).items] == [ids[3], ids[1], ids[0]]
        assert [r.image_id for r in catalog.list("alice", tags=["SEA", "sun"]).items] == [ids[3], ids[0]]
        assert catalog.list("alice", tags=["none"]).items == []
        assert [r.image_id for r in catalog.list("alice", tags=[]).items] == ids[::-1]
        assert [r.image_id for r in catalog.list("bob", tags=["Sea"]).items] != []

    def test_list_by_tag_pages_with_the_cursor(self, catalog: Catalog) -> None:
        tagged = []
        for i in range(7):
            rec = make_record(created_at=T0 + i, tags=("p",) if i % 2 == 0 else ("q",))
            catalog.create(rec)
            if i % 2 == 0:
                tagged.append(rec.image_id)
        seen: list[str] = []
        cursor = None
        while True:
            page = catalog.list("alice", tags=["P"], limit=2, cursor=cursor)
            assert len(page.items) == 2 or page.cursor is None
            seen += [r.image_id for r in page.items]
            if page.cursor is None:
                break
            cursor = page.cursor
        assert seen == tagged[::-1]

    def test_transition_moves_a_record_between_tags(self, catalog: Catalog) -> None:
        rec = catalog.create(make_record(tags=("old",)))
        new = catalog.transition(rec.image_id, Expect(states={"awaiting_upload"}), {"tags": ["new", "Other"]})
        assert new.tags == ("new", "Other")
        assert new.status == "awaiting_upload"
        assert catalog.list("alice", tags=["old"]).items == []
        assert [r.image_id for r in catalog.list("alice", tags=["other"]).items] == [rec.image_id]
        cleared = catalog.transition(rec.image_id, Expect(states={"awaiting_upload"}), {"tags": None})
        assert cleared.tags == ()
        assert catalog.list("alice", tags=["new"]).items == []
        # a change of something else keeps the tags and their listing
        rec2 = catalog.create(make_record(created_at=T0 + 1, tags=("stay",)))
        catalog.transition(rec2.image_id, Expect(states={"awaiting_upload"}), {"status": "queued"})
        assert [r.image_id for r in catalog.list("alice", tags=["stay"]).items] == [rec2.image_id]

    def test_list_by_tag_and_status(self, catalog: Catalog) -> None:
        a = catalog.create(make_record(created_at=T0, tags=("t",)))
        catalog.create(make_record(created_at=T0 + 1, tags=("t",), status="done"))
        assert [r.image_id for r in catalog.list("alice", tags=["t"], status="awaiting_upload").items] == [a.image_id]

    def test_delete_drops_the_tags(self, catalog: Catalog) -> None:
        rec = catalog.create(make_record(tags=("gone",)))
        catalog.delete(rec.image_id)
        assert catalog.list("alice", tags=["gone"]).items == []
        again = catalog.create(make_record(created_at=T0 + 5, image_id=rec.image_id))
        assert catalog.list("alice", tags=["gone"]).items == []
        assert again.tags == ()
