"""The Catalog contract: one abstract suite, subclassed once per adapter."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from imgflow.errors import BadRequest, Conflict, NotFound
from imgflow.facts import ImageFacts
from imgflow.ports import Catalog, Expect
from imgflow.records import ErrorInfo, ImageRecord, Status, StoredRendition, new_image_id

T0 = 1_700_000_000.0


def make_record(
    owner: str = "alice", *, created_at: float = T0, status: Status = "awaiting_upload", **fields: Any
) -> ImageRecord:
    return ImageRecord(
        image_id=fields.pop("image_id", None) or new_image_id(created_at),
        owner=owner,
        status=status,
        created_at=created_at,
        updated_at=fields.pop("updated_at", created_at),
        **fields,
    )


FACTS = ImageFacts(
    sha256="ab" * 32,
    format="jpeg",
    content_type="image/jpeg",
    bytes=1234,
    width=640,
    height=480,
    oriented_width=480,
    oriented_height=640,
    orientation=6,
)
RENDITION = StoredRendition(
    name="thumb",
    key="renditions/x/1/thumb.webp",
    format="webp",
    content_type="image/webp",
    width=128,
    height=96,
    bytes=777,
)


class CatalogContract:
    @pytest.fixture
    def catalog(self) -> Catalog:
        raise NotImplementedError

    def test_create_get_round_trip(self, catalog: Catalog) -> None:
        rec = make_record(
            filename="ünï code.jpg", declared_type="image/jpeg", declared_size=1234, expires_at=2_000_000_000
        )
        written = catalog.create(rec)
        assert written == rec
        assert catalog.get(rec.image_id) == rec

    def test_rich_record_round_trips(self, catalog: Catalog) -> None:
        rec = make_record(
            status="done",
            created_at=T0 + 0.125,
            facts=FACTS,
            renditions=(RENDITION,),
            etag="d41d8cd9",
            error=ErrorInfo(code="x", message="y"),
            generation=3,
            attempts=2,
            lease_expires_at=T0 + 0.5,
            size=1234,
        )
        catalog.create(rec)
        assert catalog.get(rec.image_id) == rec

    def test_duplicate_create_conflicts(self, catalog: Catalog) -> None:
        rec = make_record()
        catalog.create(rec)
        with pytest.raises(Conflict):
            catalog.create(rec.model_copy(update={"status": "queued"}))
        assert catalog.get(rec.image_id).status == "awaiting_upload"

    def test_get_missing_is_not_found(self, catalog: Catalog) -> None:
        with pytest.raises(NotFound):
            catalog.get(new_image_id())
        with pytest.raises(NotFound):
            catalog.transition(new_image_id(), Expect(states={"queued"}), {"status": "processing"})

    def test_transition_applies_changes_and_bumps_version(self, catalog: Catalog) -> None:
        rec = catalog.create(make_record(status="queued", filename="a.jpg"))
        new = catalog.transition(
            rec.image_id,
            Expect(states={"awaiting_upload", "queued"}),
            {
                "status": "processing",
                "lease_token": "t1",
                "lease_expires_at": T0 + 900,
                "attempts": 1,
                "filename": None,
            },
        )
        assert (new.status, new.lease_token, new.attempts, new.filename) == ("processing", "t1", 1, None)
        assert new.version == rec.version + 1
        assert new.updated_at != rec.updated_at
        assert catalog.get(rec.image_id) == new
        done = catalog.transition(
            rec.image_id,
            Expect(states={"processing"}, lease_token="t1"),
            {
                "status": "done",
                "facts": FACTS,
                "renditions": [RENDITION],
                "lease_token": None,
                "lease_expires_at": None,
                "updated_at": T0 + 5,
            },
        )
        assert done.facts == FACTS
        assert done.renditions == (RENDITION,)
        assert done.lease_token is None
        assert done.updated_at == T0 + 5
        assert done.version == rec.version + 2
        assert catalog.get(rec.image_id) == done

    def test_wrong_state_conflicts_and_changes_nothing(self, catalog: Catalog) -> None:
        rec = catalog.create(make_record(status="done"))
        with pytest.raises(Conflict):
            catalog.transition(rec.image_id, Expect(states={"awaiting_upload", "queued"}), {"status": "processing"})
        assert catalog.get(rec.image_id) == rec

    def test_lease_token_mismatch_conflicts(self, catalog: Catalog) -> None:
        rec = catalog.create(make_record(status="processing", lease_token="mine", lease_expires_at=T0 + 60))
        with pytest.raises(Conflict):
            catalog.transition(rec.image_id, Expect(states={"processing"}, lease_token="theirs"), {"status": "done"})
        with pytest.raises(Conflict):
            catalog.transition(rec.image_id, Expect(states={"queued"}, lease_token="mine"), {"status": "done"})
        assert (
            catalog.transition(
                rec.image_id, Expect(states={"processing"}, lease_token="mine"), {"status": "done"}
            ).status
            == "done"
        )

    def test_expired_lease_can_be_claimed(self, catalog: Catalog) -> None:
        rec = catalog.create(make_record(status="processing", lease_token="old", lease_expires_at=T0 + 60))
        claim = Expect(states={"awaiting_upload", "queued"}, lease_expired_before=T0 + 30)
        with pytest.raises(Conflict):  # lease still live at T0+30
            catalog.transition(rec.image_id, claim, {"lease_token": "new"})
        claim = Expect(states={"awaiting_upload", "queued"}, lease_expired_before=T0 + 61)
        new = catalog.transition(rec.image_id, claim, {"lease_token": "new", "lease_expires_at": T0 + 961})
        assert new.lease_token == "new"
        # the old holder can no longer finish
        with pytest.raises(Conflict):
            catalog.transition(rec.image_id, Expect(states={"processing"}, lease_token="old"), {"status": "done"})

    def test_a_lease_is_live_at_its_expiry_instant(self, catalog: Catalog) -> None:
        """Every catalog as DynamoDB's ``lease_expires_at < :now``: at the exact instant the lease
        still holds (no claim, not stale); a moment later it is gone. The same holds for
        ``older_than``: a record updated exactly then is not stale yet."""
        rec = catalog.create(make_record(status="processing", lease_token="old", lease_expires_at=T0 + 60))
        at_expiry = Expect(states={"awaiting_upload", "queued"}, lease_expired_before=T0 + 60)
        with pytest.raises(Conflict):
            catalog.transition(rec.image_id, at_expiry, {"lease_token": "new"})
        assert catalog.get(rec.image_id).lease_token == "old"
        assert catalog.stale(T0 + 60, older_than=T0 - 1000) == []
        assert [r.image_id for r in catalog.stale(T0 + 60.5, older_than=T0 - 1000)] == [rec.image_id]
        just_after = Expect(states={"awaiting_upload", "queued"}, lease_expired_before=T0 + 60.5)
        assert catalog.transition(rec.image_id, just_after, {"lease_token": "new"}).lease_token == "new"
        waiting = catalog.create(make_record(status="queued", updated_at=T0 + 10))
        assert catalog.stale(T0 + 20, older_than=T0 + 10) == []
        assert [r.image_id for r in catalog.stale(T0 + 20, older_than=T0 + 10.5)] == [waiting.image_id]

    def test_expired_lease_clause_needs_processing(self, catalog: Catalog) -> None:
        rec = catalog.create(make_record(status="done", lease_expires_at=T0))
        with pytest.raises(Conflict):
            catalog.transition(rec.image_id, Expect(states={"queued"}, lease_expired_before=T0 + 100), {})

    def test_version_mismatch_conflicts(self, catalog: Catalog) -> None:
        rec = catalog.create(make_record(status="done"))
        with pytest.raises(Conflict):
            catalog.transition(rec.image_id, Expect(states={"done"}, version=rec.version + 1), {"recipe": "x"})
        new = catalog.transition(rec.image_id, Expect(states={"done"}, version=rec.version), {"recipe": "x"})
        with pytest.raises(Conflict):
            catalog.transition(rec.image_id, Expect(states={"done"}, version=rec.version), {"recipe": "y"})
        assert catalog.get(rec.image_id) == new

    def test_transition_cannot_change_identity(self, catalog: Catalog) -> None:
        rec = catalog.create(make_record())
        with pytest.raises(ValueError, match="cannot change"):
            catalog.transition(rec.image_id, Expect(states={"awaiting_upload"}), {"image_id": "other"})
        with pytest.raises(ValueError, match="cannot change"):  # the catalog owns the version
            catalog.transition(rec.image_id, Expect(states={"awaiting_upload"}), {"version": 99})
        assert catalog.get(rec.image_id).version == rec.version

    def test_list_newest_first_with_paging(self, catalog: Catalog) -> None:
        recs = [catalog.create(make_record("alice", created_at=T0 + i)) for i in range(7)]
        catalog.create(make_record("bob", created_at=T0 + 100))
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            page = catalog.list("alice", limit=3, cursor=cursor)
            seen.extend(r.image_id for r in page.items)
            pages += 1
            cursor = page.cursor
            if cursor is None:
                break
        assert seen == [r.image_id for r in reversed(recs)]
        assert pages == 3
        exact = catalog.list("alice", limit=7)
        assert len(exact.items) == 7
        assert exact.cursor is None

    def test_list_status_filter_and_owner_isolation(self, catalog: Catalog) -> None:
        statuses: list[Status] = ["done", "failed", "done", "queued", "done", "done"]
        recs = [catalog.create(make_record("carol", created_at=T0 + i, status=s)) for i, s in enumerate(statuses)]
        catalog.create(make_record("dave", created_at=T0 + 50, status="done"))
        done = [r.image_id for r in reversed(recs) if r.status == "done"]
        first = catalog.list("carol", status="done", limit=2)
        assert [r.image_id for r in first.items] == done[:2]
        assert first.cursor is not None
        second = catalog.list("carol", status="done", limit=2, cursor=first.cursor)
        assert [r.image_id for r in second.items] == done[2:]
        assert second.cursor is None
        assert [r.status for r in catalog.list("carol", status="failed").items] == ["failed"]
        assert catalog.list("nobody").items == []
        assert {r.owner for r in catalog.list("dave").items} == {"dave"}

    def test_cursor_is_scoped_and_validated(self, catalog: Catalog) -> None:
        for i in range(3):
            catalog.create(make_record("erin", created_at=T0 + i))
        cursor = catalog.list("erin", limit=1).cursor
        assert cursor is not None
        with pytest.raises(BadRequest):
            catalog.list("mallory", limit=1, cursor=cursor)
        with pytest.raises(BadRequest):
            catalog.list("erin", cursor="not a cursor!!")
        for limit in (0, 1001):
            with pytest.raises(BadRequest, match="between 1 and 1000"):
                catalog.list("erin", limit=limit)
        assert len(catalog.list("erin", limit=1000).items) == 3

    def test_delete_is_hard_and_idempotent(self, catalog: Catalog) -> None:
        rec = catalog.create(make_record())
        catalog.delete(rec.image_id)
        catalog.delete(rec.image_id)
        with pytest.raises(NotFound):
            catalog.get(rec.image_id)
        catalog.create(rec)  # the id is free again
        assert catalog.get(rec.image_id) == rec

    def test_stale(self, catalog: Catalog) -> None:
        now = T0 + 1000
        expired = catalog.create(make_record(status="processing", lease_token="t", lease_expires_at=now - 1))
        live = catalog.create(make_record(status="processing", lease_token="t", lease_expires_at=now + 100))
        old_wait = catalog.create(make_record(status="awaiting_upload", updated_at=now - 500))
        old_queued = catalog.create(make_record(status="queued", updated_at=now - 500))
        fresh = catalog.create(make_record(status="queued", updated_at=now - 10))
        done = catalog.create(make_record(status="done", updated_at=now - 900))
        found = {r.image_id for r in catalog.stale(now, older_than=now - 120)}
        assert found == {expired.image_id, old_wait.image_id, old_queued.image_id}
        assert not found & {live.image_id, fresh.image_id, done.image_id}
        assert len(catalog.stale(now, older_than=now - 120, limit=2)) == 2

    def test_pending_events(self, catalog: Catalog) -> None:
        """Ended records whose event is not out yet, oldest first; a cleared mark, or a record that
        moved on since its mark was set (reprocessed: queued), is not pending."""
        done = catalog.create(make_record(status="done", event_pending="done", updated_at=T0 + 2))
        failed = catalog.create(make_record(status="failed", event_pending="failed", updated_at=T0 + 1))
        moved_on = catalog.create(make_record(status="queued", event_pending="done"))
        published = catalog.create(make_record(status="done", event_pending="done"))
        plain = catalog.create(make_record(status="done"))
        cleared = catalog.transition(published.image_id, Expect(states={"done"}, version=published.version),
                                     {"event_pending": None})  # fmt: skip
        assert cleared.event_pending is None
        mine = {r.image_id for r in (done, failed, moved_on, published, plain)}
        found = [r.image_id for r in catalog.pending_events(limit=1000) if r.image_id in mine]
        assert found == [failed.image_id, done.image_id]
        with pytest.raises(Conflict):  # cleared once: a second publisher's clear finds the record moved on
            catalog.transition(published.image_id, Expect(states={"done"}, version=published.version), {})

    def test_every_reads_all_owners(self, catalog: Catalog) -> None:
        every = getattr(catalog, "every")  # noqa: B009 - an operator's verb, not the service's port
        mine = [catalog.create(make_record(owner, status=s)) for owner in ("alice", "bob") for s in ("done", "failed")]
        ids = {r.image_id for r in mine}
        assert {r.image_id for r in every() if r.image_id in ids} == ids
        done = {r.image_id for r in every("done") if r.image_id in ids}
        assert done == {r.image_id for r in mine if r.status == "done"}

    def test_stale_follows_transitions_oldest_first(self, catalog: Catalog) -> None:
        """A record leaves stale() when it leaves the states that can be stale, comes back when it
        returns to one, and a touch (a new updated_at) moves it; the least recently updated first."""
        now = T0 + 1000
        ids = [catalog.create(make_record(status="queued", updated_at=now - 900 + i)).image_id for i in range(6)]
        assert [r.image_id for r in catalog.stale(now, older_than=now - 120)] == ids
        assert [r.image_id for r in catalog.stale(now, older_than=now - 120, limit=3)] == ids[:3]
        claim = Expect(states={"queued"})
        catalog.transition(ids[0], claim, {"status": "processing", "lease_token": "t", "lease_expires_at": now + 60})
        catalog.transition(ids[1], claim, {"status": "done", "updated_at": now - 800})
        catalog.transition(ids[2], claim, {"status": "failed", "updated_at": now - 800})
        catalog.transition(ids[3], claim, {"updated_at": now - 10})  # touched: fresh again
        found = [r.image_id for r in catalog.stale(now, older_than=now - 120)]
        assert found == ids[4:]
        # a dead lease comes back whatever its updated_at; a reprocessed image is queued again
        catalog.transition(ids[0], Expect(states={"processing"}), {"lease_expires_at": now - 1, "updated_at": now - 5})
        catalog.transition(ids[1], Expect(states={"done"}), {"status": "queued", "updated_at": now - 200})
        found = [r.image_id for r in catalog.stale(now, older_than=now - 120)]
        assert found == [ids[4], ids[5], ids[1], ids[0]]
        assert {r.status for r in catalog.stale(now, older_than=now - 120)} == {"queued", "processing"}

    def test_racing_transition_has_one_winner(self, catalog: Catalog) -> None:
        rec = catalog.create(make_record(status="queued"))
        barrier = threading.Barrier(8)
        winners: list[str] = []
        losers: list[str] = []
        errors: list[BaseException] = []

        def claim(token: str) -> None:
            barrier.wait()
            try:
                catalog.transition(
                    rec.image_id, Expect(states={"queued"}), {"status": "processing", "lease_token": token}
                )
                winners.append(token)
            except Conflict:
                losers.append(token)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=claim, args=(uuid.uuid4().hex,)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == []
        assert len(winners) == 1
        assert len(losers) == 7
        final = catalog.get(rec.image_id)
        assert final.lease_token == winners[0]
        assert final.version == rec.version + 1
