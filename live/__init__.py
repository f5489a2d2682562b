"""The live event stream behind every screen (issue 12): one hub that numbers each change
once, keeps a bounded buffer for reconnects, and a publishing seam a second process can feed
(PostgreSQL LISTEN/NOTIFY, or in-process)."""
