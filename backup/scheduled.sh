#!/bin/sh
# The `backup` profile's loop (docker compose --profile backup up -d): a pg_dump of the stack's
# database every BACKUP_INTERVAL_S seconds into /backups (BACKUP_DIR on the host), keeping the
# newest BACKUP_KEEP. It runs in the postgres image, so pg_dump matches the server's version.
# Unlike make backup it does not wait for the click workers: a dump may lack the clicks queued
# in the moment before it (CLICK_BATCH_WAIT_MS, 200 ms by default).
set -eu
: "${BACKUP_INTERVAL_S:=86400}" "${BACKUP_KEEP:=7}"
echo "scheduled backup: every ${BACKUP_INTERVAL_S} s into /backups, keeping the newest ${BACKUP_KEEP}"
while true; do
    file="/backups/scheduled-$(date -u +%Y%m%dT%H%M%SZ).dump"
    # Written under another name first: an interrupted dump never looks like a backup.
    if pg_dump --format=custom --file="$file.partial"; then
        mv "$file.partial" "$file"
        echo "scheduled backup: $file ($(wc -c < "$file") bytes)"
    else
        rm -f "$file.partial"
        echo "scheduled backup: pg_dump failed; trying again in ${BACKUP_INTERVAL_S} s" >&2
    fi
    ls -1t /backups/scheduled-*.dump 2>/dev/null | tail -n "+$((BACKUP_KEEP + 1))" | while read -r old; do
        rm -f "$old"
    done
    sleep "$BACKUP_INTERVAL_S"
done
