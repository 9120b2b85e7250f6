#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Which of libhamr's source files call which, read from their object files,
# and the two things the design forbids (../shared/ARCHITECTURE.md, "Layers
# and who may call whom"):
#   loop: A B ...    files that call each other, directly or around a
#                    cycle (each file of a loop reaches every other one)
#   up: A -> B (sym) a file that calls a layer above its own. The layers,
#                    bottom-up: serialize/, graph/, and in runtime/ the
#                    folders pool/, observe/, core/, procs/, blocks/,
#                    exec/, then runtime/run.c on top (runtime/README.md)
#
#   tools/layers.sh OBJDIR            prints the loops and upward calls
#   tools/layers.sh OBJDIR KNOWN      also compares them with the file KNOWN
#                                     and exits 1 when they differ
#
# OBJDIR is the build's object folder for libhamr
# (build/CMakeFiles/hamr_objects.dir). Calls are read with nm: a symbol a
# file leaves undefined that another file defines. Includes would not do:
# one internal header declares the functions of many files.
#
# KNOWN (tools/layers-known.txt) lists the loops and upward calls that the
# tree still has, so that the check fails on a new one; as they are taken
# apart, their lines go, and a line that no longer holds fails the check
# too, so the list never claims more than is there.
set -euo pipefail

objdir=${1:?usage: tools/layers.sh OBJDIR [KNOWN]}
known=${2:-}

# the layers, bottom-up: a file's layer is the first prefix its path has
layers="serialize/ graph/ runtime/pool/ runtime/observe/ runtime/core/ runtime/procs/ runtime/blocks/ runtime/exec/ runtime/"

# the sources are the tree this script is in; an object whose source is
# gone (a build folder from before a file moved) is left out
root=$(cd "$(dirname "$0")/.." && pwd)
objs=()
while IFS= read -r o; do
	if [ -f "$root/${o%.o}" ]; then
		objs+=("$o")
	fi
done < <(cd "$objdir" && find graph runtime serialize -name '*.c.o' | sort)
if [ ${#objs[@]} -eq 0 ]; then
	echo "layers.sh: no object files under $objdir" >&2
	exit 2
fi

# "file kind symbol" for every global definition (D) and reference (U)
found=$(
	for o in "${objs[@]}"; do
		f=${o%.o}
		nm -P "$objdir/$o" | awk -v f="$f" '
			$2 == "U" { print f, "U", $1; next }
			$2 ~ /^[TDBRCVWGS]$/ { print f, "D", $1 }'
	done
)

report=$(awk -v layers="$layers" '
	BEGIN { nl = split(layers, lay, " ") }
	function rank(f,   k) {
		for (k = 1; k <= nl; k++)
			if (index(f, lay[k]) == 1)
				return k
		return nl + 1
	}
	$2 == "D" { def[$3] = $1; if (!($1 in id)) { id[$1] = ++n; name[n] = $1 } next }
	{ ref[++nr] = $1; rsym[nr] = $3; if (!($1 in id)) { id[$1] = ++n; name[n] = $1 } }
	END {
		for (k = 1; k <= nr; k++) {
			s = rsym[k]
			if (!(s in def) || def[s] == ref[k])
				continue
			a = id[ref[k]]; b = id[def[s]]
			if (!((a, b) in edge)) { edge[a, b] = s; reach[a, b] = 1 }
		}
		# Floyd-Warshall: the files are a few dozen
		for (m = 1; m <= n; m++)
			for (i = 1; i <= n; i++)
				if ((i, m) in reach)
					for (j = 1; j <= n; j++)
						if ((m, j) in reach)
							reach[i, j] = 1
		for (i = 1; i <= n; i++) {
			if (i in done)
				continue
			members = name[i]; cnt = 1
			for (j = 1; j <= n; j++)
				if (j != i && (i, j) in reach && (j, i) in reach) {
					members = members " " name[j]; cnt++; done[j] = 1
				}
			if (cnt > 1) {
				m2 = split(members, arr, " ")
				# sort the members, so a loop reads the same every time
				for (x = 1; x <= m2; x++)
					for (y = x + 1; y <= m2; y++)
						if (arr[y] < arr[x]) { t = arr[x]; arr[x] = arr[y]; arr[y] = t }
				line = "loop:"
				for (x = 1; x <= m2; x++)
					line = line " " arr[x]
				print line
			}
		}
		for (e in edge) {
			split(e, ab, SUBSEP)
			from = name[ab[1]]; to = name[ab[2]]
			if (rank(to) > rank(from))
				print "up: " from " -> " to " (" edge[e] ")"
		}
	}' <<<"$found" | LC_ALL=C sort)

if [ -n "$report" ]; then
	printf '%s\n' "$report"
fi
if [ -z "$known" ]; then
	exit 0
fi
want=$(grep -v '^#' "$known" | grep -v '^$' | LC_ALL=C sort || true)
if [ "$want" = "$report" ]; then
	echo "layers.sh: the loops and upward calls are the known ones, in $known"
	exit 0
fi
echo "layers.sh: the calls between files differ from $known" >&2
echo "(-: a known line that no longer holds: remove it; +: a new loop or upward call: take it apart)" >&2
diff -u <(printf '%s\n' "$want") <(printf '%s\n' "$report") >&2 || true
exit 1
