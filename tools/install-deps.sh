#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian packages hamr needs to build, test and benchmark.
#
#   tools/install-deps.sh          what hamr needs
#   tools/install-deps.sh --plot   and gnuplot-nox, for hamr-speedup --plot
#   tools/install-deps.sh --docs   and doxygen, for the API reference
#                                  (cmake --build build --target docs)
#
# When every package is already installed it only asks dpkg and exits: no
# apt-get, no network, no root needed. Otherwise it runs `apt-get update`
# once and installs what is missing, non-interactively, through sudo when it
# is not run as root.
set -eu

usage="usage: tools/install-deps.sh [--plot] [--docs]"
plot=0
docs=0
for arg in "$@"; do
	case "$arg" in
	--plot) plot=1 ;;
	--docs) docs=1 ;;
	-h | --help)
		echo "$usage"
		echo "  --plot  also install gnuplot-nox, which hamr-speedup --plot draws with"
		echo "  --docs  also install doxygen, which the docs target (the API reference) runs"
		exit 0
		;;
	*)
		echo "install-deps: unknown argument '$arg'" >&2
		echo "$usage" >&2
		exit 2
		;;
	esac
done

packages=(
	# toolchain: gcc is the main compiler, clang the second warning check
	# (tools/check.sh builds build-clang/ with -Werror); g++ builds bench/
	gcc g++ libc6-dev clang make cmake pkg-config
	# the sanitizer runtimes of the default clang (gcc ships its own)
	libclang-rt-dev
	# the runtime's dependencies
	liburcu-dev libjemalloc-dev
	# bench/ (Google Benchmark)
	libbenchmark-dev
	# libhamr_mpi, the MPI executor, and its tests (MPICH's mpicc.mpich and
	# mpiexec.mpich)
	mpich libmpich-dev
	# dot, to check the DOT that hamr writes
	graphviz
)
# hamr-speedup --plot draws with gnuplot: only when asked for
if [ "$plot" -eq 1 ]; then
	packages+=(gnuplot-nox)
fi
# the docs target (build/docs/html, from the public headers) runs doxygen:
# only when asked
if [ "$docs" -eq 1 ]; then
	packages+=(doxygen)
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "install-deps: no dpkg-query: this script knows Debian only;" \
	     "install by hand: ${packages[*]}" >&2
	exit 1
fi

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	if [ "$status" != installed ]; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#packages[@]} packages already installed"
	exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=
if [ "$(id -u)" -ne 0 ]; then
	sudo=sudo
fi
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	--no-install-recommends \
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
	"${missing[@]}"
