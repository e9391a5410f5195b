#!/bin/sh
# As the official image's entrypoint: redis-server started as root gets /data handed to the redis
# user and runs as that user; anything else runs as given.
set -e
if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
    find . \! -user redis -exec chown redis:redis '{}' +
    exec setpriv --reuid=redis --regid=redis --init-groups "$@"
fi
exec "$@"
