"""The cluster runtime: imgflow on servers of your own, every host running the same settings.

PostgreSQL holds the catalog and the job queue (``database_url``); an S3-compatible store
holds originals and renditions. Roles, any number of each on any host:

* ``imgflow serve --role api``: the API, the page and ``/metrics`` (:mod:`.api`);
* ``imgflow worker``: ``--concurrency N`` processes claiming jobs (:mod:`.workers`);
* ``imgflow sweep``: reconcile, expired uploads and the outbox, one host at a time (:mod:`.sweep`);
* ``imgflow db migrate``: create or upgrade the schema.

See docs/cluster.md.
"""
