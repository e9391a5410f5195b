"""Day-2 operations on the compose stack: deploy, roll back, back up and restore (make deploy,
make rollback, make backup, make restore). They drive `docker compose` and `docker` as a person
would, from this checkout; docs/operations.md describes each."""
