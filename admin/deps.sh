# Sourced by admin/demo.sh and tests/run.sh: make sure the Debian packages
# named in $PACKAGES are installed.  As root, install what is missing with
# apt-get; as another user, print the apt-get line to run and exit 1.
# $1 names the calling script in messages.
po_require_packages() {
	who=$1
	missing=""
	for p in $PACKAGES; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "install ok installed"; then
			missing="$missing $p"
		fi
	done
	[ -n "$missing" ] || return 0
	if [ "$(id -u)" = 0 ]; then
		echo "$who: installing:$missing"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update
		# shellcheck disable=SC2086
		apt-get install -y --no-install-recommends $missing
	else
		echo "$who: missing Debian packages:$missing" >&2
		echo "install them with:" >&2
		echo "  sudo apt-get install -y$missing" >&2
		exit 1
	fi
}
