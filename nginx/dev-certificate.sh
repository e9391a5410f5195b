#!/bin/sh
# Development only: makes a CA of its own and a certificate it signs for PUBLIC_BASE_URL's host
# (plus localhost, 127.0.0.1 and nginx) in the folder $1, unless that folder already holds
# fullchain.pem and privkey.pem (yours, or an ACME client's: then nothing is touched).
# Run once by compose's `certs` service; trust dev-ca.pem in a browser or `curl --cacert`.
set -eu
dir=$1
if [ -s "$dir/fullchain.pem" ] && [ -s "$dir/privkey.pem" ]; then
    echo "dev-certificate.sh: $dir already holds a certificate; left as it is"
    exit 0
fi
# Run in the app image (which has openssl and python): the URL is parsed as the app parses it.
host=$(python -c 'import os, urllib.parse; print(urllib.parse.urlsplit(os.environ.get("PUBLIC_BASE_URL", "")).hostname or "")')
names="DNS:localhost,DNS:nginx,IP:127.0.0.1"
case "$host" in
    "" | localhost | nginx | 127.0.0.1) ;;
    *[!0-9.:]*) names="DNS:$host,$names" ;;
    *) names="IP:$host,$names" ;;
esac
work=$(mktemp -d)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj "/CN=Shortstack development CA" -keyout "$work/dev-ca.key" -out "$dir/dev-ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=${host:-localhost}" -keyout "$work/privkey.pem" -out "$work/server.csr" 2>/dev/null
printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' \
    "$names" > "$work/server.ext"
openssl x509 -req -in "$work/server.csr" -CA "$dir/dev-ca.pem" -CAkey "$work/dev-ca.key" -CAcreateserial -CAserial "$work/ca.srl" \
    -days 825 -extfile "$work/server.ext" -out "$work/fullchain.pem" 2>/dev/null
# nginx runs as uid 101 in its image and must reach the folder and read the key; nobody else
# needs the key.
chmod go+x "$dir"
install -m 0600 -o 101 "$work/privkey.pem" "$dir/privkey.pem"
install -m 0644 "$work/fullchain.pem" "$dir/fullchain.pem"
rm -rf "$work"  # the CA's key: no further certificate is ever signed with it
echo "dev-certificate.sh: made $dir/fullchain.pem for $names, signed by $dir/dev-ca.pem"
