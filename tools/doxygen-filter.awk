# SPDX-License-Identifier: MIT
# Doxygen's INPUT_FILTER for hamr's public headers (tools/Doxyfile.in):
#
#   awk -f tools/doxygen-filter.awk include/hamr/graph.h
#
# The headers document every declaration in plain C comments, not in
# Doxygen's /** */, so that they read as ordinary C. This turns them into
# Doxygen comments on the way in, line for line (warnings keep their line
# numbers), and leaves the headers alone:
#
#   - the file's own comment (the first after the SPDX line) becomes
#     /** ... @file */, the file's description;
#   - a comment that starts a line and ends directly above code (a
#     declaration, a struct member, an enum value, a macro) becomes /** */;
#   - a comment after code on the same line becomes /**< */, the member's;
#   - in those, lines indented past the comment's text (examples, tables,
#     lists of options) are wrapped in <pre>, so they keep their layout
#     ("- " lists excepted: Doxygen's markdown lays those out);
#     an '@' is escaped (Hamilton's @config.when is text, not a Doxygen
#     command), and so is a '<' before a letter outside `code` ("<point>",
#     "<item type>": placeholders, not HTML).
#
# Left plain: the SPDX line, section rules (/* ---- ... */), comments
# followed by a blank line, another comment or a preprocessor conditional,
# and the comment that closes an include guard. POSIX awk (mawk will do).

function is_code(s) {
	if (s ~ /^[ \t]*$/) return 0               # blank: the comment stands alone
	if (s ~ /^[ \t]*\/\*/) return 0            # another comment
	if (s ~ /^[ \t]*#[ \t]*(if|ifdef|ifndef|else|elif|endif|include|undef)/) return 0
	if (s ~ /^[ \t]*}/) return 0               # the end of a body
	return 1
}

# the text of a doc comment line, escaped as said above
function esc(s,    out, c, pre, ticks, k) {
	out = ""
	ticks = 0
	while (match(s, /@|<[A-Za-z_]/)) {
		c = substr(s, RSTART, 1)
		pre = substr(s, 1, RSTART - 1)
		for (k = 1; k <= length(pre); k++)
			if (substr(pre, k, 1) == "`") ticks++
		if (c == "@") c = "\\@"
		else if (ticks % 2 == 0) c = "&lt;"
		out = out pre c
		s = substr(s, RSTART + 1)
	}
	return out s
}

# whether continuation line s of a comment is indented past its text:
# " *   x" (three spaces or more after the star)
function indented(s) {
	return s ~ /^[ \t]*\*   +[^ \t]/ && s !~ /^[ \t]*\*\//
}

# whether line k is in a block of indented lines (see indented()) of the
# comment that starts on line i, and the block is not a "- " list, which
# Doxygen's markdown lays out by itself
function in_block(k, i,    k0) {
	if (k <= i || !indented(line[k])) return 0
	k0 = k
	while (k0 - 1 > i && indented(line[k0 - 1])) k0--
	return line[k0] !~ /^[ \t]*\*   +- /
}

# line k of a doc comment that runs from line i to line j
function doc_line(k, i, j,    t) {
	t = esc(line[k])
	if (in_block(k, i)) {
		if (!in_block(k - 1, i))
			sub(/\* /, "* <pre>", t)        # the first of a block
		if (!(k + 1 <= j && in_block(k + 1, i))) {
			if (t ~ /\*\/[ \t]*$/) sub(/[ \t]*\*\/[ \t]*$/, "</pre> */", t)
			else t = t "</pre>"           # the last of a block
		}
	}
	return t
}

{ line[NR] = $0 }

END {
	n = NR
	seen_file = 0
	i = 1
	while (i <= n) {
		s = line[i]
		# a comment that starts a line
		if (s ~ /^[ \t]*\/\*/ && s !~ /^[ \t]*\/\*\*/) {
			j = i
			while (j <= n && index(line[j], "*/") == 0) j++
			if (j > n) j = n
			# text after the closing */ on its last line: code there
			rest = substr(line[j], index(line[j], "*/") + 2)
			doc = 0
			if (s ~ /SPDX-License-Identifier/ || s ~ /^[ \t]*\/\* ----/) {
				doc = 0
			} else if (!seen_file && s ~ /^\/\*/) {
				seen_file = 1
				doc = 2
			} else if (rest !~ /^[ \t]*$/) {
				doc = 1                     # /* doc */ HAMR_X = 1,
			} else if (j < n && is_code(line[j + 1])) {
				doc = 1
			}
			for (k = i; k <= j; k++) {
				if (!doc) {
					print line[k]
					continue
				}
				t = doc_line(k, i, j)
				if (k == i) sub(/\/\*/, "/**", t)
				if (doc == 2 && k == j) sub(/\*\/[ \t]*$/, " @file */", t)
				print t
			}
			i = j + 1
			continue
		}
		# a comment after code: the member's (#endif /* GUARD */ excepted)
		p = index(s, "/*")
		if (p > 1 && substr(s, p, 3) != "/**" && s !~ /^[ \t]*#[ \t]*(if|ifdef|ifndef|else|elif|endif|include|undef)/) {
			head = substr(s, 1, p - 1)
			# a quote before the comment: it may be inside a string; a
			# forward declaration documents nothing (Doxygen would give
			# its comment to the next declaration)
			if (head !~ /"/ && head !~ /^[ \t]*(struct|union|enum)[ \t]+[A-Za-z_0-9]+;[ \t]*$/) {
				j = i
				if (index(substr(s, p + 2), "*/") == 0) {
					j = i + 1
					while (j <= n && index(line[j], "*/") == 0) j++
					if (j > n) j = n
				}
				line[i] = substr(s, p)
				print head "/**<" substr(doc_line(i, i, j), 3)
				for (k = i + 1; k <= j; k++) print doc_line(k, i, j)
				i = j + 1
				continue
			}
		}
		print s
		i++
	}
}
