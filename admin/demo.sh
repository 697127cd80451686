#!/bin/sh
# Set up and run: install what is missing (as root, on Debian), build
# build/, make a demo data directory in ./var/demo with a self-signed
# certificate, a config file and an account "demo" (random password,
# POP on), print how to log in, then run postofficed in the foreground on
# loopback: IMAP 1143, IMAPS 1993, POP3 1110, POP3S 1995, LMTP 2424.
# Stop it with Ctrl-C.  Running it again reuses ./var/demo.
# PO_BUILD=dir builds in dir/ instead of build/.
set -eu

cd "$(dirname "$0")/.."
ROOT=$(pwd)
DEMO="$ROOT/var/demo"
CONF="$DEMO/postoffice.conf"

PACKAGES="build-essential cmake pkg-config libuv1-dev libgnutls28-dev
libsqlite3-dev libcrypt-dev libinih-dev libcmocka-dev gnutls-bin"

. "$ROOT/admin/deps.sh"
po_require_packages demo.sh

JOBS=$(nproc 2>/dev/null || echo 2)
BUILD="$ROOT/${PO_BUILD:-build}"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPO_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j "$JOBS" --target postofficed postoffice
DAEMON="$BUILD/server/postofficed"
ADMIN="$BUILD/admin/postoffice"

mkdir -p "$DEMO/data"
chmod 700 "$DEMO"

if [ ! -f "$DEMO/cert.pem" ] || [ ! -f "$DEMO/key.pem" ]; then
	cat >"$DEMO/cert.tmpl" <<EOF
cn = "localhost"
organization = "postoffice demo"
dns_name = "localhost"
ip_address = "127.0.0.1"
expiration_days = 365
tls_www_server
signing_key
encryption_key
EOF
	certtool --generate-privkey --key-type=ecdsa \
		--outfile "$DEMO/key.pem" 2>/dev/null
	certtool --generate-self-signed --load-privkey "$DEMO/key.pem" \
		--template "$DEMO/cert.tmpl" --outfile "$DEMO/cert.pem" 2>/dev/null
	chmod 600 "$DEMO/key.pem"
fi

cat >"$CONF" <<EOF
# Written by admin/demo.sh; see etc/postoffice.conf for every key.
data_dir = $DEMO/data
hostname = localhost
tls_cert = $DEMO/cert.pem
tls_key = $DEMO/key.pem
imap_listen = 127.0.0.1:1143
imaps_listen = 127.0.0.1:1993
pop3_listen = 127.0.0.1:1110
pop3s_listen = 127.0.0.1:1995
lmtp_listen = 127.0.0.1:2424
plaintext_auth = loopback
log_level = info
EOF

if "$ADMIN" -c "$CONF" account show demo >/dev/null 2>&1; then
	if [ -f "$DEMO/demo-password" ]; then
		PASSWORD=$(cat "$DEMO/demo-password")
	else
		PASSWORD="(unchanged; set one with: $ADMIN -c $CONF account passwd demo --password-stdin)"
	fi
else
	PASSWORD=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
	printf '%s\n' "$PASSWORD" |
		"$ADMIN" -c "$CONF" account add demo --password-stdin \
			--pop on --imap on
	(umask 077 && printf '%s\n' "$PASSWORD" >"$DEMO/demo-password")
fi

cat <<EOF

postoffice demo
  account:   demo
  password:  $PASSWORD
  POP3:      127.0.0.1:1110 (STLS)    POP3S: 127.0.0.1:1995
  IMAP:      127.0.0.1:1143 (STARTTLS) IMAPS: 127.0.0.1:1993
  LMTP:      127.0.0.1:2424
  config:    $CONF
  admin:     $ADMIN -c $CONF account list

Try:
  curl -u demo:PASSWORD pop3://127.0.0.1:1110/
  curl -k -u demo:PASSWORD pop3s://127.0.0.1:1995/
  curl -u demo:PASSWORD imap://127.0.0.1:1143/                 (LIST)
  curl -k -u demo:PASSWORD 'imaps://127.0.0.1:1993/INBOX;UID=1'  (a message)
  curl -k -u demo:PASSWORD -T message.eml imaps://127.0.0.1:1993/Drafts

Starting postofficed in the foreground (Ctrl-C to stop).
EOF

exec "$DAEMON" -c "$CONF"
