#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The test command: builds hamr and runs its tests in every configuration
# that CI checks, each in its own build folder, and stops at the first step
# that fails.
#
#   tools/check.sh                 all five configurations, in this order:
#     plain   build/        gcc, -Werror, tests and benchmarks built, ctest
#     threads build/ again: ctest with HAMR_EXECUTOR=threads, so that runs
#                           whose options leave the executor unset run on
#                           the pool (what the planned default will be)
#     clang   build-clang/  clang, -Werror, everything built, no tests run:
#                           the build is known warning-free under both
#     asan    build-asan/   gcc, AddressSanitizer + UBSan, ctest
#     tsan    build-tsan/   gcc, ThreadSanitizer, ctest
#   tools/check.sh tsan asan       only those, in that order
#
# Build folders are kept between runs, so a second run only rebuilds what
# changed. Sanitizer options for the tests come from the *_OPTIONS below;
# options already in the environment are appended, so they win.
set -euo pipefail

cd "$(dirname "$0")/.."

jobs=$(nproc 2>/dev/null || echo 2)

export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:print_stacktrace=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export LSAN_OPTIONS="print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}"

# The sanitizer runtimes of gcc 12 and clang 14 map their shadow memory at
# fixed addresses that a kernel with more than 28 bits of mmap ASLR entropy
# may already have used ("FATAL: ThreadSanitizer: unexpected memory
# mapping"). There the sanitized tests run with ASLR off for their process
# tree (setarch -R). HAMR_CHECK_SETARCH=1 or 0 forces the choice.
sanitized_runner=()
rnd_bits=$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 0)
if [ "${HAMR_CHECK_SETARCH:-$([ "$rnd_bits" -gt 28 ] && echo 1 || echo 0)}" = 1 ]; then
	sanitized_runner=(setarch "$(uname -m)" -R)
fi

phase_names=()
phase_times=()
current=

on_exit() {
	local rc=$?
	if [ $rc -ne 0 ] && [ -n "$current" ]; then
		printf '\ncheck.sh: FAILED in configuration "%s" (exit %d)\n' \
			"$current" $rc >&2
	fi
}
trap on_exit EXIT

header() {
	printf '\n==============================================================\n'
	printf '== %s\n' "$*"
	printf '==============================================================\n'
}

# configure DIR CC CXX CMAKE_ARGS...: CC and CXX matter only on the first
# configure of DIR; later runs reuse its cache.
configure() {
	local dir=$1 cc=$2 cxx=$3
	shift 3
	CC=$cc CXX=$cxx cmake -S . -B "$dir" "$@"
}

build() {
	cmake --build "$1" -j "$jobs"
}

# run_tests DIR [RUNNER...]: ctest in DIR, its output also kept in
# DIR/check-ctest.log, whose count of tests goes into the closing line.
tests_run=0
run_tests() {
	local dir=$1 n
	shift
	(cd "$dir" && "$@" ctest --output-on-failure --no-tests=error -j "$jobs") |
		tee "$dir/check-ctest.log"
	n=$(sed -n 's/.*tests failed out of \([0-9][0-9]*\).*/\1/p' \
		"$dir/check-ctest.log" | tail -n 1)
	tests_run=$((tests_run + ${n:-0}))
}

phase() {
	local name=$1 start=$SECONDS
	current=$name
	case $name in
	plain)
		header "plain: gcc, build/ (tests and benchmarks)"
		configure build gcc g++
		build build
		run_tests build
		;;
	threads)
		header "threads: build/, ctest with HAMR_EXECUTOR=threads"
		configure build gcc g++
		build build
		run_tests build env HAMR_EXECUTOR=threads
		;;
	clang)
		header "clang: build-clang/ (build with -Werror, no tests run)"
		configure build-clang clang clang++ -DHAMR_WERROR=ON \
			-DHAMR_BUILD_BENCH=OFF
		build build-clang
		;;
	asan)
		header "asan: gcc, build-asan/ (AddressSanitizer + UBSan)"
		[ ${#sanitized_runner[@]} -eq 0 ] ||
			echo "(tests run under ${sanitized_runner[*]}: vm.mmap_rnd_bits=$rnd_bits)"
		configure build-asan gcc g++ -DHAMR_SANITIZE=address,undefined \
			-DHAMR_BUILD_BENCH=OFF
		build build-asan
		run_tests build-asan "${sanitized_runner[@]}"
		;;
	tsan)
		header "tsan: gcc, build-tsan/ (ThreadSanitizer)"
		[ ${#sanitized_runner[@]} -eq 0 ] ||
			echo "(tests run under ${sanitized_runner[*]}: vm.mmap_rnd_bits=$rnd_bits)"
		configure build-tsan gcc g++ -DHAMR_SANITIZE=thread \
			-DHAMR_BUILD_BENCH=OFF
		build build-tsan
		run_tests build-tsan "${sanitized_runner[@]}"
		;;
	*)
		echo "check.sh: unknown configuration '$name' (plain, threads, clang, asan, tsan)" >&2
		exit 2
		;;
	esac
	phase_names+=("$name")
	phase_times+=("$((SECONDS - start))")
	current=
}

if [ $# -eq 0 ]; then
	set -- plain threads clang asan tsan
fi
for name in "$@"; do
	phase "$name"
done

header "all passed"
for i in "${!phase_names[@]}"; do
	printf '   %-7s %4ss\n' "${phase_names[$i]}" "${phase_times[$i]}"
done
printf '   %-7s %4ss\n' total "$SECONDS"
echo "check: $tests_run passed, 0 failed"
