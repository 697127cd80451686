#!/bin/sh
# The benchmarks of issue 4: postoffice and Dovecot side by side.
#
# As root on Debian 12: installs what is missing (Dovecot's imapd, pop3d
# and lmtpd, the build packages), builds a release build in build-bench/
# and the load generator in build-bench/loadgen/ (when tests/bench/loadgen
# has its CMakeLists.txt), then runs tests/bench/bench.py, which starts
# postofficed and a Dovecot of its own on 127.0.0.1, loads the same mail
# into both over LMTP, runs every workload against both in alternation and
# writes tests/bench/RESULTS.md.  Not part of tests/run.sh or CI.
#
#   tests/bench/run.sh                         the full run (hours)
#   PO_BENCH_SCALE=0.02 PO_BENCH_ONLY=1,2,3,5,8 tests/bench/run.sh
#                                              a quick reduced run
#
#   PO_BENCH_SCALE  scales message counts, bytes and idle clients (1.0)
#   PO_BENCH_ONLY   comma-separated workload numbers (1,2,3,4,5,6,7,8)
#   PO_BENCH_REPS   measurements per server and figure (3)
#   PO_BENCH_DIR    work dir, emptied first (var/bench)
#   PO_BENCH_OUT    report file (tests/bench/RESULTS.md)
#   PO_BENCH_TIMEOUT  a cap on the whole run in seconds (36000)
#   PO_JOBS         build jobs (nproc)
#
# Every process it starts is a child it stops by PID (also on failure).
set -eu

cd "$(dirname "$0")/../.."
ROOT=$(pwd)

if [ "$(id -u)" != 0 ]; then
	echo "tests/bench/run.sh: run as root (it installs packages, runs" \
		"Dovecot as root and creates the mail user pobench)" >&2
	exit 1
fi

PACKAGES="build-essential cmake pkg-config libuv1-dev libgnutls28-dev
libsqlite3-dev libcrypt-dev libinih-dev gnutls-bin python3 git
dovecot-imapd dovecot-pop3d dovecot-lmtpd"
. "$ROOT/admin/deps.sh"
po_require_packages tests/bench/run.sh

# Dovecot's packages may start the system Dovecot; the bench's own
# instance has its own ports and directories, so it does not care.

# The user owning Dovecot's bench mail (mail_uid).
if ! getent passwd pobench >/dev/null; then
	useradd --system --user-group --no-create-home \
		--home-dir /nonexistent --shell /usr/sbin/nologin pobench
fi

# 10,000 connections on each side of the loopback, plus files: 65536 open
# files, or at least the hard limit when it is lower but enough.
if ! ulimit -n 65536 2>/dev/null; then
	hard=$(ulimit -Hn)
	need=$(awk -v s="${PO_BENCH_SCALE:-1.0}" \
		'BEGIN { printf "%d", 10000 * s + 2000 }')
	case ",${PO_BENCH_ONLY:-6}," in *,6,*) ;; *) need=1024 ;; esac
	if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
		echo "tests/bench/run.sh: cannot raise the open-file limit to" \
			"65536 (ulimit -n; hard limit $hard); the IDLE test" \
			"needs $need" >&2
		exit 1
	fi
	ulimit -n "$hard"
	echo "tests/bench/run.sh: open-file limit $hard (hard limit)"
fi

JOBS=${PO_JOBS:-$(nproc 2>/dev/null || echo 2)}
BUILD="$ROOT/build-bench"
export PO_BENCH_BUILD="$BUILD"
echo "=== release build in $BUILD"
# Release at -O2 (as Debian builds its packages, Dovecot included): GCC 12
# at CMake's default -O3 reports maybe-uninitialized false positives in
# storage/store_message.c, which -Werror turns into a failed build.
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DPO_TESTS=OFF \
	-DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" >/dev/null
cmake --build "$BUILD" -j "$JOBS" --target postofficed postoffice

if [ -f "$ROOT/tests/bench/loadgen/CMakeLists.txt" ]; then
	echo "=== load generator in $BUILD/loadgen"
	if ! { cmake -S "$ROOT/tests/bench/loadgen" -B "$BUILD/loadgen" \
		-DCMAKE_BUILD_TYPE=Release >/dev/null &&
		cmake --build "$BUILD/loadgen" -j "$JOBS"; }; then
		echo "tests/bench/run.sh: the load generator did not build;" \
			"workloads 4, 6 and 7 will be reported as not run" >&2
		rm -f "$BUILD/loadgen/po-loadgen"
	fi
fi

# bench.py stops its servers itself (try/finally); the timeout is the last
# resort for a hung run.  It is our child: timeout signals it by PID.
echo "=== benchmarks (scale ${PO_BENCH_SCALE:-1.0})"
exec timeout --kill-after=60 "${PO_BENCH_TIMEOUT:-36000}" \
	python3 "$ROOT/tests/bench/bench.py"
