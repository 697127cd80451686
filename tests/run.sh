#!/bin/sh
# Set up and test: install what is missing (as root, on Debian), build
# build/ (normal) and build-asan/ (AddressSanitizer + UBSan), and run every
# unit and integration test in both.  Exits non-zero on any failure.
#
#   tests/run.sh            everything
#   PO_JOBS=4 tests/run.sh  build with 4 jobs (default: nproc)
#   PO_SKIP_ASAN=1          only the normal build
#   PO_BUILD=dir            build in dir/ and dir-asan/ (default: build)
set -eu

cd "$(dirname "$0")/.."
ROOT=$(pwd)

# Debian 12 packages the build and the tests need.
PACKAGES="build-essential cmake pkg-config libuv1-dev libgnutls28-dev
libsqlite3-dev libcmocka-dev libcrypt-dev libinih-dev gnutls-bin fetchmail
curl python3 ca-certificates isync offlineimap3"
# node and npm for the imapflow client test: Debian's, unless a node is
# installed already (another node package may ship its own npm).
if ! command -v node >/dev/null 2>&1; then
	PACKAGES="$PACKAGES nodejs npm"
elif ! command -v npm >/dev/null 2>&1; then
	PACKAGES="$PACKAGES npm"
fi

. "$ROOT/admin/deps.sh"
po_require_packages tests/run.sh

# The node client test's packages (tests/integration/node, pinned by its
# package-lock.json).  Skipped when the installed tree matches the lock
# file; if npm cannot reach the registry, the node test reports it.
NODE_DIR="$ROOT/tests/integration/node"
if ! cmp -s "$NODE_DIR/package-lock.json" \
	"$NODE_DIR/node_modules/.po-installed-lock" 2>/dev/null; then
	echo "=== npm ci in tests/integration/node"
	if (cd "$NODE_DIR" && npm ci --no-audit --no-fund --prefer-offline); then
		cp "$NODE_DIR/package-lock.json" \
			"$NODE_DIR/node_modules/.po-installed-lock"
	else
		echo "tests/run.sh: npm ci failed; the imapflow test will fail" >&2
	fi
fi

JOBS=${PO_JOBS:-$(nproc 2>/dev/null || echo 2)}
status=0

run_build() {
	dir=$1
	shift
	echo "=== configure and build $dir $*"
	cmake -S "$ROOT" -B "$ROOT/$dir" "$@" || return 1
	cmake --build "$ROOT/$dir" -j "$JOBS" || return 1
	echo "=== test $dir"
	(cd "$ROOT/$dir" && ctest --output-on-failure -j "$JOBS") || return 1
}

BUILD=${PO_BUILD:-build}
run_build "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPO_TESTS=ON || status=1
if [ -z "${PO_SKIP_ASAN:-}" ]; then
	# detect_leaks: the daemon's exit after SIGTERM must be leak-free too
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
	export ASAN_OPTIONS UBSAN_OPTIONS
	run_build "$BUILD-asan" -DCMAKE_BUILD_TYPE=Debug -DPO_SANITIZE=ON -DPO_TESTS=ON ||
		status=1
fi

if [ $status -eq 0 ]; then
	echo "tests/run.sh: all tests passed"
else
	echo "tests/run.sh: FAILED" >&2
fi
exit $status
