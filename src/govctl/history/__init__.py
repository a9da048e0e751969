"""Git and what is built on it: batched read-only git access (``git``), replaying the
records of every commit (``replay``), the semantic diff of revisions (``diff``), a use
case's timeline, trace and its digest index, approval provenance, the records at HEAD
(``baseline``), and `validate`, which composes the rules with these git checks."""
