#!/bin/sh
# Makes a development certificate authority and certificates for GenGap's TLS and mutual TLS
# (never for production: the CA key sits next to the certificates, unencrypted).
#   scripts/dev-ca.sh [DIR] [EXTRA_DNS_NAME...]      DIR defaults to .gengap/tls
# Writes, in DIR:
#   ca.crt ca.key            the CA (GENGAP_TLS_CA on every service and client)
#   service.crt service.key  one certificate for all four services, usable as a server certificate
#                            and as their client certificate on calls to each other (serverAuth +
#                            clientAuth); names: localhost, 127.0.0.1, ::1, data, trainer, analysis,
#                            coordinator, <name>.gengap, <name>.gengap.svc, <name>.gengap.svc.cluster.local,
#                            plus EXTRA_DNS_NAMEs
#   client.crt client.key    a client certificate for the CLI, notebooks, tests (clientAuth only)
# Existing files are kept (delete DIR to start over). Requires openssl.
set -eu
DIR=${1:-.gengap/tls}
[ $# -gt 0 ] && shift
DAYS=${GENGAP_DEV_CA_DAYS:-825}
mkdir -p "$DIR"
cd "$DIR"
umask 077

names="DNS:localhost,IP:127.0.0.1,IP:::1"
for s in data trainer analysis coordinator; do
  names="$names,DNS:$s,DNS:$s.gengap,DNS:$s.gengap.svc,DNS:$s.gengap.svc.cluster.local"
done
for extra in "$@"; do names="$names,DNS:$extra"; done

if [ ! -f ca.key ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days "$DAYS" \
    -subj "/CN=GenGap development CA" -keyout ca.key -out ca.crt \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi

issue() { # name subject extendedKeyUsage subjectAltName
  [ -f "$1.crt" ] && return 0
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
    -subj "/CN=$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$3"
    [ -n "$4" ] && echo "subjectAltName=$4"
  } >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days "$DAYS" -sha256 \
    -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

issue service "gengap-service" "serverAuth,clientAuth" "$names"
issue client "gengap-client" "clientAuth" ""
chmod 644 ca.crt service.crt client.crt
chmod 600 ca.key service.key client.key
rm -f ca.srl
echo "$(pwd)"
