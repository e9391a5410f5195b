#!/bin/sh
# Prints nginx's hosts.conf for PUBLIC_BASE_URL ($1): a map that marks requests for any other
# host, which shortstack.conf refuses with 421, and $https_base_url, PUBLIC_BASE_URL when it is
# https (where compose's https/tls.conf redirects http). Run at start by the image and by local_stack.
# With PUBLIC_BASE_URL empty every host is served (the replicas then take theirs from Host).
set -eu
host=$(printf '%s\n' "${1:-}" | sed -E 's#^[A-Za-z][A-Za-z0-9+.-]*://([^/@]*@)?(\[[^]/]*\]|[^/:?#]*).*$#\2#' \
       | tr 'A-Z' 'a-z' | sed -E 's/\.$//')
echo "# Written by nginx/known-hosts.sh for PUBLIC_BASE_URL=${1:-}"
echo 'map "$host $uri" $unknown_host {'
if [ -z "$host" ]; then
    echo '    default 0;'
else
    # Besides the public name: the names the stack's own clients use (Locust calls "nginx",
    # healthchecks 127.0.0.1), and nginx-health from anywhere (orchestrators probe by address).
    pattern=$(printf '%s' "$host" | sed -e 's/[.[]/\\&/g' -e 's/]/\\]/g')
    echo '    default 1;'
    echo "    \"~^($pattern|localhost|127\\.0\\.0\\.1|nginx)\\.? \" 0;"
    echo '    "~ /nginx-health$" 0;'
    # nginx's own error pages, reached by an internal redirect that runs this check again: the
    # 421 itself must not loop (hence volatile: re-evaluated for the new URI, not the cached
    # answer). They are internal, so no client requests them directly.
    echo '    volatile;'
    echo '    "~ /errors/" 0;'
fi
echo '}'
case "${1:-}" in
    https://*) echo "map \$host \$https_base_url { default \"$(printf '%s' "$1" | sed 's#/*$##')\"; }" ;;
    *) echo 'map $host $https_base_url { default ""; }' ;;
esac
